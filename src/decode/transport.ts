import {LAYER, type Fields} from './fields.js'
import {IPPROTO, VXLAN_PORT, u16} from './protocols.js'

/**
 * Decodes the header that starts an IP payload (unfragmented packets and first fragments only): ports of
 * TCP/UDP/SCTP, type/code of ICMP/ICMPv6, and the outer header of GRE and VXLAN tunnels. Tunnels are recorded but not
 * entered: the index and the filter see the outer addresses and ports, as tcpdump does.
 */
export function decodeTransport(buf: Uint8Array, off: number, end: number, proto: number, f: Fields): void {
  if (off >= end) return
  f.l4Offset = off
  switch (proto) {
    case IPPROTO.TCP:
      if (readPorts(buf, off, end, f)) f.layers |= LAYER.TCP
      return
    case IPPROTO.UDP:
      if (!readPorts(buf, off, end, f)) return
      f.layers |= LAYER.UDP
      // VXLAN: 8-byte header with the I flag (0x08) set; the VNI is the 24 bits after three bytes.
      if (f.dstPort === VXLAN_PORT && off + 16 <= end && (buf[off + 8] & 0x08) !== 0) {
        f.vxlanVni = (buf[off + 12] << 16) | (buf[off + 13] << 8) | buf[off + 14]
        f.layers |= LAYER.VXLAN
      }
      return
    case IPPROTO.SCTP:
      if (readPorts(buf, off, end, f)) f.layers |= LAYER.SCTP
      return
    case IPPROTO.ICMP:
      if (readIcmp(buf, off, end, f)) f.layers |= LAYER.ICMP
      return
    case IPPROTO.ICMPV6:
      if (readIcmp(buf, off, end, f)) f.layers |= LAYER.ICMPV6
      return
    case IPPROTO.GRE:
      if (off + 4 <= end) {
        f.greProtocol = u16(buf, off + 2)
        f.layers |= LAYER.GRE
      }
      return
    default:
      f.l4Offset = -1
  }
}

/** Source and destination port are the first four bytes of TCP, UDP and SCTP alike. */
function readPorts(buf: Uint8Array, off: number, end: number, f: Fields): boolean {
  if (off + 4 > end) return false
  f.srcPort = u16(buf, off)
  f.dstPort = u16(buf, off + 2)
  return true
}

function readIcmp(buf: Uint8Array, off: number, end: number, f: Fields): boolean {
  if (off + 2 > end) return false
  f.icmpType = buf[off]
  f.icmpCode = buf[off + 1]
  return true
}
