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
const WLAN_HEADER = 24 // frame control, duration, three addresses, sequence control
const WLAN_ADDR4 = 6
const WLAN_QOS = 2
const RADIOTAP_MIN = 8
const PPI_MIN = 8
const PPI_DLT_802_11 = 105
const PPI_DLT_ETHERNET = 1
const NFLOG_HEADER = 4 // family, version, resource id
const NFLOG_TLV_HEADER = 4 // length (little-endian, header included), type
const NFULA_PAYLOAD = 9
const AF_INET6_LINUX = 10

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

/**
 * IEEE 802.11. Management and data frames carry addresses; tcpdump's `ether src/dst` read the source and
 * destination address (SA/DA), which move with the To DS / From DS bits; control frames have none. Data frames that
 * carry data (not null functions) and are not protected get their LLC/SNAP payload decoded; the header grows by
 * the fourth address (To DS and From DS) and the QoS control field. Management and other frames stop at the
 * addresses, as tcpdump's `ip` would not match them.
 */
export function decodeWlan(buf: Uint8Array, off: number, end: number, f: Fields): void {
  if (off + WLAN_HEADER > end) return
  f.layers |= LAYER.LINK
  const fc0 = buf[off]
  const fc1 = buf[off + 1]
  const type = (fc0 >> 2) & 3
  if (type === 0) {
    readMac(buf, off + 4, off + 10, f) // DA = address 1, SA = address 2
    return
  }
  if (type !== 2) return
  const toDs = fc1 & 1
  const fromDs = fc1 & 2
  let header = WLAN_HEADER
  if (toDs && fromDs) header += WLAN_ADDR4
  if (off + header > end) return
  // DA: address 1, or 3 when going to the distribution system; SA: address 2, 3 coming from it, 4 over a bridge.
  readMac(buf, off + (toDs ? 16 : 4), off + (fromDs ? (toDs ? 24 : 16) : 10), f)
  const subtype = fc0 >> 4
  if (subtype & 0x8) header += WLAN_QOS
  if ((subtype & 0x4) !== 0 || (fc1 & 0x40) !== 0) return // no data, or encrypted
  const llc = off + header
  if (llc + LLC_SNAP_HEADER <= end && buf[llc] === 0xaa && buf[llc + 1] === 0xaa && buf[llc + 2] === 0x03) {
    decodeEtherType(buf, llc + LLC_SNAP_HEADER, end, u16(buf, llc + 6), f)
  }
}

/** Radiotap: a little-endian header length, then the 802.11 frame. */
export function decodeRadiotap(buf: Uint8Array, off: number, end: number, f: Fields): void {
  if (off + RADIOTAP_MIN > end) return
  decodeWlan(buf, off + (buf[off + 2] | (buf[off + 3] << 8)), end, f)
}

/** PPI: a little-endian header length and the link type that follows (802.11 or Ethernet). */
export function decodePpi(buf: Uint8Array, off: number, end: number, f: Fields): void {
  if (off + PPI_MIN > end) return
  const payload = off + (buf[off + 2] | (buf[off + 3] << 8))
  const dlt = (buf[off + 4] | (buf[off + 5] << 8) | (buf[off + 6] << 16) | (buf[off + 7] << 24)) >>> 0
  if (dlt === PPI_DLT_802_11) decodeWlan(buf, payload, end, f)
  else if (dlt === PPI_DLT_ETHERNET) decodeEthernet(buf, payload, end, f)
}

/**
 * Linux NFLOG: the address family, then type-length-value attributes (lengths little-endian, including their header,
 * padded to 4 bytes); the packet is the payload attribute's value, an IPv4 or IPv6 packet by the family.
 * tcpdump cannot filter this link type at all.
 */
export function decodeNflog(buf: Uint8Array, off: number, end: number, f: Fields): void {
  if (off + NFLOG_HEADER > end) return
  f.layers |= LAYER.LINK
  const family = buf[off]
  const type = family === AF_INET ? ETHERTYPE.IPV4 : family === AF_INET6_LINUX ? ETHERTYPE.IPV6 : 0
  for (let p = off + NFLOG_HEADER; p + NFLOG_TLV_HEADER <= end;) {
    const length = buf[p] | (buf[p + 1] << 8)
    if (length < NFLOG_TLV_HEADER) return
    if ((buf[p + 2] | (buf[p + 3] << 8)) === NFULA_PAYLOAD) {
      decodeEtherType(buf, p + NFLOG_TLV_HEADER, Math.min(end, p + length), type, f)
      return
    }
    p += (length + 3) & ~3
  }
}

/** Destination and source MAC at the given offsets. */
function readMac(buf: Uint8Array, dst: number, src: number, f: Fields): void {
  f.macDstHi = u16(buf, dst)
  f.macDstLo = u32(buf, dst + 2)
  f.macSrcHi = u16(buf, src)
  f.macSrcLo = u32(buf, src + 2)
  f.layers |= LAYER.MAC
}

function readMacs(buf: Uint8Array, off: number, f: Fields): void {
  readMac(buf, off, off + 6, f)
}
