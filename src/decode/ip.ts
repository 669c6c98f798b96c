import {LAYER, type Fields} from './fields.js'
import {IPPROTO, u16, u32} from './protocols.js'
import {decodeTransport} from './transport.js'

const IPV4_MIN_HEADER = 20
const IPV6_HEADER = 40
const IPV6_FRAGMENT_HEADER = 8

/** Decodes an IP packet whose version the layer below announced; versions other than 4 and 6 are not IP. */
export function decodeIp(version: number, buf: Uint8Array, off: number, end: number, f: Fields): void {
  if (version === 4) {
    f.ipVersion = 4
    decodeIpv4(buf, off, end, f)
  } else if (version === 6) {
    f.ipVersion = 6
    decodeIpv6(buf, off, end, f)
  }
}

/** IPv4: addresses, protocol, fragmentation; the transport header only at fragment offset 0 (it is not elsewhere). */
function decodeIpv4(buf: Uint8Array, off: number, end: number, f: Fields): void {
  f.l3Offset = off
  if (off + IPV4_MIN_HEADER > end) return
  const headerLen = (buf[off] & 0x0f) * 4
  const flagsAndOffset = u16(buf, off + 6)
  f.fragOffset = (flagsAndOffset & 0x1fff) * 8
  f.isFragment = (flagsAndOffset & 0x2000) !== 0 || f.fragOffset !== 0
  f.ipProto = buf[off + 9]
  f.ip4Src = u32(buf, off + 12)
  f.ip4Dst = u32(buf, off + 16)
  f.layers |= LAYER.IPV4
  // A header length below the minimum is damage: there is no telling where the payload starts.
  if (f.fragOffset === 0 && headerLen >= IPV4_MIN_HEADER) decodeTransport(buf, off + headerLen, end, f.ipProto, f)
}

/**
 * IPv6: addresses, then the extension-header chain up to the upper-layer protocol. A fragment header with a
 * non-zero offset ends the walk: what follows is the middle of the fragmented payload, whose protocol is the
 * fragment header's next-header value.
 */
function decodeIpv6(buf: Uint8Array, off: number, end: number, f: Fields): void {
  f.l3Offset = off
  if (off + IPV6_HEADER > end) return
  for (let i = 0; i < 4; i++) {
    f.ip6Src[i] = u32(buf, off + 8 + 4 * i)
    f.ip6Dst[i] = u32(buf, off + 24 + 4 * i)
  }
  f.isFragment = false
  f.fragOffset = 0
  f.layers |= LAYER.IPV6
  let next = buf[off + 6]
  let p = off + IPV6_HEADER
  for (;;) {
    f.ipProto = next
    switch (next) {
      case IPPROTO.HOPOPTS:
      case IPPROTO.ROUTING:
      case IPPROTO.DSTOPTS:
        if (p + 2 > end) return
        next = buf[p]
        p += (buf[p + 1] + 1) * 8
        break
      case IPPROTO.AH:
        if (p + 2 > end) return
        next = buf[p]
        p += (buf[p + 1] + 2) * 4
        break
      case IPPROTO.FRAGMENT:
        if (p + IPV6_FRAGMENT_HEADER > end) return
        next = buf[p]
        f.isFragment = true
        f.fragOffset = u16(buf, p + 2) & 0xfff8
        p += IPV6_FRAGMENT_HEADER
        if (f.fragOffset !== 0) {
          f.ipProto = next
          return
        }
        break
      default:
        decodeTransport(buf, p, end, next, f)
        return
    }
  }
}
