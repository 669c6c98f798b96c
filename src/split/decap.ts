/*
 * Tunnel stripping for `pcapkit filter --decap`: GRE (transparent Ethernet bridging, IPv4, IPv6, Cisco MetaData,
 * ERSPAN type I, II and III), VXLAN (UDP 4789) and Geneve (UDP 6081), any number of layers deep up to a limit.
 *
 * Nothing is copied: the inner frame is a slice of the record's own buffer, so the decapsulated packet is a view
 * (start, length, link type) onto the same bytes. Inner Ethernet frames get LINKTYPE_ETHERNET, inner IP packets
 * LINKTYPE_RAW; outputs of decapsulated packets are therefore pcapng, which holds several link types in one file.
 * The inner frame ends where the outer IP packet ends (its total/payload length), so an outer Ethernet trailer or
 * FCS is not taken for inner bytes; its wire length is the outer one less the stripped headers.
 */
import {decode} from '../decode/decode.js'
import {LAYER, type Fields} from '../decode/fields.js'
import {ETHERTYPE, u16} from '../decode/protocols.js'
import {LINKTYPE} from '../pcap/linktype.js'
import type {WritablePacket} from '../pcap/writer.js'

const GRE_CHECKSUM = 0x8000
const GRE_ROUTING = 0x4000
const GRE_KEY = 0x2000
const GRE_SEQUENCE = 0x1000
const GRE_VERSION = 0x0007
const GRE_TEB = 0x6558 // transparent Ethernet bridging: an Ethernet frame follows
const GRE_ERSPAN_I_II = 0x88be
const GRE_ERSPAN_III = 0x22eb
/** Cisco MetaData (SGT tagging): an 8-byte header that starts with the inner ethertype. */
const GRE_CISCO_METADATA = 0x8909
const CISCO_METADATA_HEADER = 8
/** ERSPAN III frame type (FT, 5 bits of byte 10): 0 is Ethernet; others (IP, vendor) are not opened. */
const ERSPAN_III_FT_ETHERNET = 0
const ERSPAN_II_HEADER = 8
const ERSPAN_III_HEADER = 12
const ERSPAN_III_PLATFORM_SUBHEADER = 8
const UDP_HEADER = 8
const VXLAN_HEADER = 8
const GENEVE_PORT = 6081
const GENEVE_HEADER = 8
const ETHERNET_HEADER = 14

/** What decapsulate() did with a packet. */
export const DECAP = {
  /** No tunnel header: the packet is left as it is. */
  PLAIN: 0,
  /** At least one tunnel layer stripped. */
  STRIPPED: 1,
  /** A tunnel whose inner frame cannot be reached (unknown payload, a fragment, cut short): left as it is. */
  FAILED: 2,
} as const

/** The packet as written after decapsulation: a window onto the record's buffer. */
export class PacketView implements WritablePacket {
  buf: Buffer = Buffer.alloc(0)
  dataStart = 0
  caplen = 0
  origLen = 0
  tsSec = 0
  tsNsec = 0
  linkType = 0
  hasTs = true

  /** Points the view at `p` unchanged. */
  reset(p: WritablePacket): void {
    this.buf = p.buf
    this.dataStart = p.dataStart
    this.caplen = p.caplen
    this.origLen = p.origLen
    this.tsSec = p.tsSec
    this.tsNsec = p.tsNsec
    this.linkType = p.linkType
    this.hasTs = p.hasTs !== false
  }
}

export class Decapsulator {
  /** Set by findInner(): where the inner frame starts and which link type it is. */
  private innerStart = 0
  private innerLink = 0

  /** `maxDepth`: tunnel layers to strip at most (Infinity: all). */
  constructor(private readonly maxDepth = Infinity) {}

  /**
   * Strips tunnel layers off `p` into `view` and leaves `fields` decoded for the packet in `view` (the inner one when
   * stripped, the original otherwise). Returns a DECAP value; on FAILED the view is the original packet.
   */
  decapsulate(p: WritablePacket, view: PacketView, fields: Fields): number {
    view.reset(p)
    decode(view.buf, view.dataStart, view.caplen, view.linkType, fields, view.origLen)
    let depth = 0
    while (depth < this.maxDepth) {
      const found = this.findInner(view, fields)
      if (found === DECAP.PLAIN) break
      // A deeper tunnel that cannot be opened is part of the inner traffic (a GRE keepalive inside GRE): keep the
      // layers stripped so far. Only an outermost tunnel that cannot be opened is a failure.
      if (found === DECAP.FAILED) return depth > 0 ? DECAP.STRIPPED : DECAP.FAILED
      const capEnd = view.dataStart + view.caplen
      const ipEnd = outerIpEnd(view, fields)
      view.origLen = ipEnd - this.innerStart
      view.caplen = Math.min(capEnd, ipEnd) - this.innerStart
      view.dataStart = this.innerStart
      view.linkType = this.innerLink
      decode(view.buf, view.dataStart, view.caplen, view.linkType, fields, view.origLen)
      depth++
    }
    return depth > 0 ? DECAP.STRIPPED : DECAP.PLAIN
  }

  /** Finds the tunnel payload of the packet decoded in `fields`: PLAIN (no tunnel), FAILED, or STRIPPED (found). */
  private findInner(view: PacketView, f: Fields): number {
    const tunnel = (f.layers & LAYER.GRE) !== 0 || ((f.layers & LAYER.UDP) !== 0 && (f.dstPort === GENEVE_PORT || (f.layers & LAYER.VXLAN) !== 0))
    if (!tunnel) return DECAP.PLAIN
    // A first fragment holds only the start of the inner frame; the rest is in fragments we do not reassemble.
    if (f.isFragment) return DECAP.FAILED
    const buf = view.buf
    const end = view.dataStart + view.caplen
    const l4 = f.l4Offset
    if ((f.layers & LAYER.GRE) !== 0) return this.gre(buf, l4, end)
    if ((f.layers & LAYER.VXLAN) !== 0) return this.found(l4 + UDP_HEADER + VXLAN_HEADER, LINKTYPE.ETHERNET, end)
    return this.geneve(buf, l4 + UDP_HEADER, end)
  }

  private gre(buf: Buffer, at: number, end: number): number {
    const flags = u16(buf, at)
    // Version 1 is PPTP's enhanced GRE (PPP inside); source routing (R) is obsolete and variable-length.
    if ((flags & GRE_VERSION) !== 0 || (flags & GRE_ROUTING) !== 0) return DECAP.FAILED
    const protocol = u16(buf, at + 2)
    let p = at + 4
    if (flags & GRE_CHECKSUM) p += 4
    if (flags & GRE_KEY) p += 4
    if (flags & GRE_SEQUENCE) p += 4
    switch (protocol) {
      case GRE_TEB:
      case ETHERTYPE.IPV4:
      case ETHERTYPE.IPV6: return this.byEtherType(protocol, p, end)
      case GRE_CISCO_METADATA:
        if (p + CISCO_METADATA_HEADER > end) return DECAP.FAILED
        return this.byEtherType(u16(buf, p), p + CISCO_METADATA_HEADER, end)
      // ERSPAN type I has no header of its own (and no GRE sequence number); type II has 8 bytes (RFC draft
      // foschiano-erspan §4.1), type III 12 plus an optional 8-byte platform sub-header flagged by its O bit.
      case GRE_ERSPAN_I_II: return this.found((flags & GRE_SEQUENCE) ? p + ERSPAN_II_HEADER : p, LINKTYPE.ETHERNET, end)
      case GRE_ERSPAN_III: {
        if (p + ERSPAN_III_HEADER > end || ((buf[p + 10] >> 2) & 0x1f) !== ERSPAN_III_FT_ETHERNET) return DECAP.FAILED
        const platform = (buf[p + ERSPAN_III_HEADER - 1] & 1) !== 0 ? ERSPAN_III_PLATFORM_SUBHEADER : 0
        return this.found(p + ERSPAN_III_HEADER + platform, LINKTYPE.ETHERNET, end)
      }
      default: return DECAP.FAILED
    }
  }

  private geneve(buf: Buffer, at: number, end: number): number {
    if (at + GENEVE_HEADER > end || (buf[at] >> 6) !== 0) return DECAP.FAILED
    const options = (buf[at] & 0x3f) * 4
    return this.byEtherType(u16(buf, at + 2), at + GENEVE_HEADER + options, end)
  }

  /** A payload named by ethertype (GRE, Geneve, Cisco MetaData): Ethernet (0x6558), IPv4 or IPv6. */
  private byEtherType(type: number, start: number, end: number): number {
    if (type === GRE_TEB) return this.found(start, LINKTYPE.ETHERNET, end)
    if (type === ETHERTYPE.IPV4 || type === ETHERTYPE.IPV6) return this.found(start, LINKTYPE.RAW, end)
    return DECAP.FAILED
  }

  /** Records the inner frame if at least its first header was captured. */
  private found(start: number, linkType: number, end: number): number {
    const minimum = linkType === LINKTYPE.ETHERNET ? ETHERNET_HEADER : 1
    if (start + minimum > end) return DECAP.FAILED
    this.innerStart = start
    this.innerLink = linkType
    return DECAP.STRIPPED
  }
}

/**
 * Where the outer IP packet ends on the wire (by its length field), so link-layer trailers are left out. A zero
 * length (TSO/BIG TCP captures, IPv6 jumbograms) means "to the end of the frame".
 */
function outerIpEnd(view: PacketView, f: Fields): number {
  const wireEnd = view.dataStart + view.origLen
  const l3 = f.l3Offset
  if ((f.layers & LAYER.IPV4) !== 0) {
    const total = u16(view.buf, l3 + 2)
    return total > 0 ? Math.min(l3 + total, wireEnd) : wireEnd
  }
  const payload = u16(view.buf, l3 + 4)
  return payload > 0 ? Math.min(l3 + 40 + payload, wireEnd) : wireEnd
}
