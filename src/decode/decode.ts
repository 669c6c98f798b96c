import {LINKTYPE} from '../pcap/linktype.js'
import type {Fields} from './fields.js'
import {
  decodeCiscoHdlc, decodeEthernet, decodeFddi, decodeFixedIp, decodeNflog, decodeNull, decodePpi, decodePpp, decodeRadiotap,
  decodeRawIp, decodeSll, decodeSll2, decodeWlan,
} from './link.js'
import {ETHERTYPE} from './protocols.js'

/** Link types decode() understands; packets of other link types decode to an empty layer mask. */
export const DECODED_LINK_TYPES: ReadonlySet<number> = new Set([
  LINKTYPE.ETHERNET, LINKTYPE.FDDI, LINKTYPE.LINUX_SLL, LINKTYPE.LINUX_SLL2, LINKTYPE.NULL, LINKTYPE.LOOP,
  LINKTYPE.RAW, LINKTYPE.RAW_OLD, LINKTYPE.RAW_OLD2, LINKTYPE.IPV4, LINKTYPE.IPV6, LINKTYPE.PPP,
  LINKTYPE.PPP_HDLC, LINKTYPE.C_HDLC, LINKTYPE.IEEE802_11, LINKTYPE.IEEE802_11_RADIOTAP, LINKTYPE.PPI, LINKTYPE.NFLOG,
])

/**
 * Decodes the packet in buf[start, start + caplen) into the reused `fields` and returns the bitmask of layers seen
 * (LAYER.*). Never throws and never allocates: a header cut short by the capture length simply ends decoding, and
 * whatever layers came before it stay decoded.
 */
export function decode(
  buf: Uint8Array, start: number, caplen: number, linkType: number, fields: Fields, wireLen = caplen,
): number {
  const f = fields
  f.layers = 0
  f.linkType = linkType
  f.capLen = caplen
  f.wireLen = wireLen
  f.outerEtherType = 0
  f.etherType = 0
  f.vlanCount = 0
  f.mplsCount = 0
  f.ipVersion = 0
  f.l3Offset = -1
  f.l4Offset = -1
  const end = Math.min(start + caplen, buf.length)
  switch (linkType) {
    case LINKTYPE.ETHERNET: decodeEthernet(buf, start, end, f); break
    case LINKTYPE.FDDI: decodeFddi(buf, start, end, f); break
    case LINKTYPE.LINUX_SLL: decodeSll(buf, start, end, f); break
    case LINKTYPE.LINUX_SLL2: decodeSll2(buf, start, end, f); break
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP: decodeNull(buf, start, end, f); break
    case LINKTYPE.RAW:
    case LINKTYPE.RAW_OLD:
    case LINKTYPE.RAW_OLD2: decodeRawIp(buf, start, end, f); break
    case LINKTYPE.IPV4: decodeFixedIp(buf, start, end, ETHERTYPE.IPV4, f); break
    case LINKTYPE.IPV6: decodeFixedIp(buf, start, end, ETHERTYPE.IPV6, f); break
    case LINKTYPE.PPP:
    case LINKTYPE.PPP_HDLC: decodePpp(buf, start, end, f); break
    case LINKTYPE.C_HDLC: decodeCiscoHdlc(buf, start, end, f); break
    case LINKTYPE.IEEE802_11: decodeWlan(buf, start, end, f); break
    case LINKTYPE.IEEE802_11_RADIOTAP: decodeRadiotap(buf, start, end, f); break
    case LINKTYPE.PPI: decodePpi(buf, start, end, f); break
    case LINKTYPE.NFLOG: decodeNflog(buf, start, end, f); break
  }
  return f.layers
}
