/*
 * The decoded view of one packet. decode() fills ONE reused Fields object per packet (gopacket's
 * DecodingLayerParser style): nothing is allocated per packet, addresses are numbers or preallocated arrays.
 *
 * A field is meaningful only when the layer bit that guards it is set in `layers`; decode() clears the bits, not
 * the fields, so stale values from an earlier packet remain behind unset bits.
 */

/** Bits of Fields.layers (and of decode()'s return value): which layers were seen. */
export const LAYER = {
  /** The link-layer header of a supported link type was complete. */
  LINK: 1 << 0,
  /** macSrc* / macDst* hold the frame's source and destination MAC addresses (Ethernet, FDDI, 802.11 SA/DA). */
  MAC: 1 << 1,
  /** At least one 802.1Q/802.1ad tag: vlanIds, vlanCount. */
  VLAN: 1 << 2,
  /** At least one MPLS label stack entry: mplsLabels, mplsCount. */
  MPLS: 1 << 3,
  /** ARP or RARP with 4-byte protocol addresses: arpOp, arpSenderIp, arpTargetIp. */
  ARP: 1 << 4,
  /** IPv4 header with addresses and protocol: ip4Src, ip4Dst, ipProto, isFragment, fragOffset. */
  IPV4: 1 << 5,
  /** IPv6 header with addresses: ip6Src, ip6Dst, ipProto (after extension headers), isFragment, fragOffset. */
  IPV6: 1 << 6,
  /** srcPort/dstPort of TCP, UDP or SCTP (only in unfragmented packets and first fragments). */
  TCP: 1 << 7,
  UDP: 1 << 8,
  SCTP: 1 << 9,
  /** icmpType/icmpCode. */
  ICMP: 1 << 10,
  ICMPV6: 1 << 11,
  /** GRE header of an outer IP packet: greProtocol (the encapsulated ethertype; inner layers are not decoded). */
  GRE: 1 << 12,
  /** VXLAN header in UDP port 4789: vxlanVni (the inner frame is not decoded). */
  VXLAN: 1 << 13,
} as const

/** Layers that carry srcPort/dstPort. */
export const PORT_LAYERS = LAYER.TCP | LAYER.UDP | LAYER.SCTP

/** Tags and labels beyond these depths are counted but their values are not kept. */
export const MAX_VLAN_TAGS = 8
export const MAX_MPLS_LABELS = 8

export class Fields {
  /** Bitmask of LAYER values. */
  layers = 0
  linkType = 0
  /** Captured bytes of the packet and its original length on the wire (what `less`/`greater` compare). */
  capLen = 0
  wireLen = 0

  /** MAC addresses as high 16 bits and low 32 bits, e.g. 00:11:22:33:44:55 → hi 0x0011, lo 0x22334455. */
  macSrcHi = 0
  macSrcLo = 0
  macDstHi = 0
  macDstLo = 0

  /**
   * The first type field after the link header (0x8100 for a tagged frame) and the innermost one, after all VLAN
   * tags (0x8847 for MPLS). Link types without ethertypes (BSD loopback, raw IP, PPP) get the equivalent ethertype;
   * 0 when the link layer names no protocol we know. An 802.3 frame keeps its length field here.
   */
  outerEtherType = 0
  etherType = 0

  /** VLAN ids, outermost first; vlanCount may exceed MAX_VLAN_TAGS. */
  readonly vlanIds = new Uint16Array(MAX_VLAN_TAGS)
  vlanCount = 0
  /** MPLS labels, top of stack first; mplsCount may exceed MAX_MPLS_LABELS. */
  readonly mplsLabels = new Uint32Array(MAX_MPLS_LABELS)
  mplsCount = 0

  /**
   * 4 or 6 when the link layer (or the first nibble after an MPLS bottom of stack) announces IPv4/IPv6, even if the
   * IP header itself was cut short (then LAYER.IPV4/IPV6 stays unset); 0 otherwise.
   */
  ipVersion = 0
  /** Byte offsets into the decoded buffer of the network header (IP, ARP) and of the transport header (-1: none). */
  l3Offset = -1
  l4Offset = -1

  /** IPv4 addresses as unsigned 32-bit numbers (10.0.0.1 → 0x0a000001). */
  ip4Src = 0
  ip4Dst = 0
  /** IPv6 addresses as four big-endian 32-bit words each. */
  readonly ip6Src = new Uint32Array(4)
  readonly ip6Dst = new Uint32Array(4)
  /**
   * The upper-layer protocol: IPv4's protocol field, or IPv6's last next-header after hop-by-hop, routing, fragment,
   * destination-options and AH headers (if the chain is cut short, the last next-header that could be read).
   */
  ipProto = 0
  /** An IPv4 packet with MF set or a non-zero offset, or an IPv6 packet with a fragment header. */
  isFragment = false
  /** Fragment offset in bytes (0 for the first fragment and for unfragmented packets). */
  fragOffset = 0

  srcPort = 0
  dstPort = 0
  icmpType = 0
  icmpCode = 0

  arpOp = 0
  arpSenderIp = 0
  arpTargetIp = 0

  greProtocol = 0
  vxlanVni = 0
}
