/*
 * Link-layer headers. Each parser checks that its header was captured, records what it carries (MAC addresses)
 * and hands the payload on by ethertype; link types that name their payload differently (BSD address families, PPP
 * protocol numbers, the IP version nibble) translate to the equivalent ethertype so that one path decodes the rest.
 */
import {decodeEtherType} from './ethertype.js'
import {LAYER, type Fields} from './fields.js'
import {ETHERTYPE, u16, u32} from './protocols.js'

const ETHERNET_HEADER = 14
const FDDI_HEADER = 13 // frame control, destination, source
const LLC_SNAP_HEADER = 8 // AA AA 03, OUI, ethertype
const SLL_HEADER = 16
const SLL2_HEADER = 20
const NULL_HEADER = 4
const PPP_ADDRESS_CONTROL = 0xff03
const C_HDLC_HEADER = 4

export function decodeEthernet(buf: Uint8Array, off: number, end: number, f: Fields): void {
  if (off + ETHERNET_HEADER > end) return
  readMacs(buf, off, f)
  f.layers |= LAYER.LINK
  decodeEtherType(buf, off + ETHERNET_HEADER, end, u16(buf, off + 12), f)
}

/** FDDI: MAC addresses after the frame-control byte, then 802.2 LLC; only SNAP-encapsulated payloads are decoded. */
export function decodeFddi(buf: Uint8Array, off: number, end: number, f: Fields): void {
  if (off + FDDI_HEADER > end) return
  readMacs(buf, off + 1, f)
  f.layers |= LAYER.LINK
  const llc = off + FDDI_HEADER
  if (llc + LLC_SNAP_HEADER <= end && buf[llc] === 0xaa && buf[llc + 1] === 0xaa && buf[llc + 2] === 0x03) {
    decodeEtherType(buf, llc + LLC_SNAP_HEADER, end, u16(buf, llc + 6), f)
  }
}

/** Linux cooked capture v1: the protocol (an ethertype) is the header's last field. */
export function decodeSll(buf: Uint8Array, off: number, end: number, f: Fields): void {
  if (off + SLL_HEADER > end) return
  f.layers |= LAYER.LINK
  decodeEtherType(buf, off + SLL_HEADER, end, u16(buf, off + 14), f)
}

/** Linux cooked capture v2: the protocol is the header's first field. */
export function decodeSll2(buf: Uint8Array, off: number, end: number, f: Fields): void {
  if (off + SLL2_HEADER > end) return
  f.layers |= LAYER.LINK
  decodeEtherType(buf, off + SLL2_HEADER, end, u16(buf, off), f)
}

/**
 * BSD loopback (a 4-byte address family in the capturing host's byte order) and OpenBSD loop (network order).
 * Family values are small, so a value with its high bytes set was written in the other byte order.
 */
export function decodeNull(buf: Uint8Array, off: number, end: number, f: Fields): void {
  if (off + NULL_HEADER > end) return
  f.layers |= LAYER.LINK
  const little = (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0
  const family = little > 0xffff ? u32(buf, off) : little
  decodeEtherType(buf, off + NULL_HEADER, end, addressFamilyToEtherType(family), f)
}

const AF_INET = 2
// AF_INET6 differs by OS (NetBSD/OpenBSD 24, FreeBSD 28, macOS 30); a capture file may come from any of them.
const AF_INET6_BSD = 24
const AF_INET6_FREEBSD = 28
const AF_INET6_DARWIN = 30

function addressFamilyToEtherType(family: number): number {
  switch (family) {
    case AF_INET: return ETHERTYPE.IPV4
    case AF_INET6_BSD:
    case AF_INET6_FREEBSD:
    case AF_INET6_DARWIN: return ETHERTYPE.IPV6
    default: return 0
  }
}

/** Raw IP without a link header: the version nibble says IPv4 or IPv6. */
export function decodeRawIp(buf: Uint8Array, off: number, end: number, f: Fields): void {
  f.layers |= LAYER.LINK
  if (off >= end) return
  const version = buf[off] >> 4
  const type = version === 4 ? ETHERTYPE.IPV4 : version === 6 ? ETHERTYPE.IPV6 : 0
  decodeEtherType(buf, off, end, type, f)
}

/** LINKTYPE_IPV4/IPV6: raw IP of a version fixed by the link type, whatever the first nibble says. */
export function decodeFixedIp(buf: Uint8Array, off: number, end: number, type: number, f: Fields): void {
  f.layers |= LAYER.LINK
  decodeEtherType(buf, off, end, type, f)
}

/**
 * PPP, with or without HDLC-like framing (FF 03 address/control) and with 1- or 2-byte protocol fields
 * (protocol-field compression makes the first protocol byte odd).
 */
export function decodePpp(buf: Uint8Array, off: number, end: number, f: Fields): void {
  let p = off
  if (p + 2 <= end && u16(buf, p) === PPP_ADDRESS_CONTROL) p += 2
  if (p >= end) return
  let protocol: number
  if ((buf[p] & 1) !== 0) {
    protocol = buf[p]
    p += 1
  } else {
    if (p + 2 > end) return
    protocol = u16(buf, p)
    p += 2
  }
  f.layers |= LAYER.LINK
  decodeEtherType(buf, p, end, pppToEtherType(protocol), f)
}

function pppToEtherType(protocol: number): number {
  switch (protocol) {
    case 0x0021: return ETHERTYPE.IPV4
    case 0x0057: return ETHERTYPE.IPV6
    case 0x0281: return ETHERTYPE.MPLS
    case 0x0283: return ETHERTYPE.MPLS_MULTICAST
    default: return 0
  }
}

/** Cisco HDLC: address, control, then an ethertype. */
export function decodeCiscoHdlc(buf: Uint8Array, off: number, end: number, f: Fields): void {
  if (off + C_HDLC_HEADER > end) return
  f.layers |= LAYER.LINK
  decodeEtherType(buf, off + C_HDLC_HEADER, end, u16(buf, off + 2), f)
}

function readMacs(buf: Uint8Array, off: number, f: Fields): void {
  f.macDstHi = u16(buf, off)
  f.macDstLo = u32(buf, off + 2)
  f.macSrcHi = u16(buf, off + 6)
  f.macSrcLo = u32(buf, off + 8)
  f.layers |= LAYER.MAC
}
