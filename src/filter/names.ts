/** Names the filter language accepts for numbers: services (ports), IP protocols and ethertypes. */
import {ETHERTYPE, IPPROTO} from '../decode/protocols.js'

/**
 * Well-known services, as Debian's netbase lists them. tcpdump looks names up in /etc/services, and a name listed
 * only for TCP (http) or only for UDP (ntp) matches only that protocol; we keep that meaning with a fixed table so
 * that a filter means the same on every machine.
 */
const SERVICES: Record<string, {port: number; tcp: boolean; udp: boolean}> = {}
for (const [names, port, protocols] of [
  ['ftp-data', 20, 'tcp'], ['ftp', 21, 'tcp'], ['ssh', 22, 'tcp'], ['telnet', 23, 'tcp'], ['smtp mail', 25, 'tcp'],
  ['domain', 53, 'tcp udp'], ['bootps', 67, 'udp'], ['bootpc', 68, 'udp'], ['tftp', 69, 'udp'],
  ['http www', 80, 'tcp'], ['kerberos kerberos5 krb5', 88, 'tcp udp'], ['pop3 pop-3', 110, 'tcp'],
  ['sunrpc portmapper', 111, 'tcp udp'], ['ntp', 123, 'udp'], ['epmap loc-srv', 135, 'tcp'],
  ['netbios-ns', 137, 'udp'], ['netbios-dgm', 138, 'udp'], ['netbios-ssn', 139, 'tcp'], ['imap2 imap', 143, 'tcp'],
  ['snmp', 161, 'tcp udp'], ['snmp-trap snmptrap', 162, 'tcp udp'], ['bgp', 179, 'tcp'], ['ldap', 389, 'tcp udp'],
  ['https', 443, 'tcp udp'], ['microsoft-ds', 445, 'tcp'], ['isakmp', 500, 'udp'], ['syslog', 514, 'udp'],
  ['submission', 587, 'tcp'], ['ldaps', 636, 'tcp udp'], ['domain-s', 853, 'tcp udp'], ['imaps', 993, 'tcp'],
  ['pop3s', 995, 'tcp'], ['openvpn', 1194, 'tcp udp'], ['nfs', 2049, 'tcp udp'], ['mysql', 3306, 'tcp'],
  ['sip', 5060, 'tcp udp'], ['sip-tls', 5061, 'tcp udp'], ['postgresql postgres', 5432, 'tcp'],
  ['ircd', 6667, 'tcp'], ['http-alt webcache', 8080, 'tcp'],
] as const) {
  for (const name of names.split(' ')) {
    SERVICES[name] = {port, tcp: protocols.includes('tcp'), udp: protocols.includes('udp')}
  }
}

export function lookupService(name: string): {port: number; tcp: boolean; udp: boolean} | undefined {
  return Object.hasOwn(SERVICES, name) ? SERVICES[name] : undefined
}

/** Protocol names for `ip proto`, `ip6 proto`, `proto` (tcpdump wants `\tcp` for keywords; the backslash is optional here). */
const IP_PROTOCOLS: Record<string, number> = {
  icmp: IPPROTO.ICMP, igmp: IPPROTO.IGMP, ipip: 4, tcp: IPPROTO.TCP, egp: 8, udp: IPPROTO.UDP, ipv6: 41, rsvp: 46,
  gre: IPPROTO.GRE, esp: IPPROTO.ESP, ah: IPPROTO.AH, icmp6: IPPROTO.ICMPV6, 'ipv6-icmp': IPPROTO.ICMPV6, ospf: 89,
  pim: 103, vrrp: 112, l2tp: 115, sctp: IPPROTO.SCTP,
}

export function lookupIpProtocol(name: string): number | undefined {
  return Object.hasOwn(IP_PROTOCOLS, name) ? IP_PROTOCOLS[name] : undefined
}

const ETHER_TYPES: Record<string, number> = {
  ip: ETHERTYPE.IPV4, ip6: ETHERTYPE.IPV6, arp: ETHERTYPE.ARP, rarp: ETHERTYPE.RARP,
}

export function lookupEtherType(name: string): number | undefined {
  return Object.hasOwn(ETHER_TYPES, name) ? ETHER_TYPES[name] : undefined
}
