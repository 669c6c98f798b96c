/** Protocol numbers shared by the decoder and the filter language. */

export const ETHERTYPE = {
  IPV4: 0x0800,
  ARP: 0x0806,
  RARP: 0x8035,
  VLAN: 0x8100, // 802.1Q C-tag
  QINQ: 0x88a8, // 802.1ad S-tag
  QINQ_OLD: 0x9100, // pre-standard QinQ tag
  IPV6: 0x86dd,
  MPLS: 0x8847,
  MPLS_MULTICAST: 0x8848,
} as const

/** Type values below this are 802.3 length fields, not ethertypes. */
export const ETHERTYPE_MIN = 0x0600

export const IPPROTO = {
  HOPOPTS: 0,
  ICMP: 1,
  IGMP: 2,
  TCP: 6,
  UDP: 17,
  ROUTING: 43,
  FRAGMENT: 44,
  GRE: 47,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  DSTOPTS: 60,
  SCTP: 132,
} as const

export const VXLAN_PORT = 4789

/** Reads a big-endian 16-bit value; callers check bounds first. */
export function u16(buf: Uint8Array, at: number): number {
  return (buf[at] << 8) | buf[at + 1]
}

/** Reads a big-endian unsigned 32-bit value; callers check bounds first. */
export function u32(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0
}
