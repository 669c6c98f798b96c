import {LAYER, MAX_MPLS_LABELS, type Fields} from './fields.js'
import {decodeIp} from './ip.js'
import {u32} from './protocols.js'

const BOTTOM_OF_STACK = 0x100

/**
 * An MPLS label stack. MPLS does not say what it carries, so after the bottom of the stack the payload is taken to be
 * IPv4 or IPv6 by its first nibble, as tcpdump's `mpls and ip` does; anything else (a pseudowire control word, an
 * Ethernet frame) is left undecoded.
 */
export function decodeMpls(buf: Uint8Array, off: number, end: number, f: Fields): void {
  for (;;) {
    if (off + 4 > end) return
    const entry = u32(buf, off)
    if (f.mplsCount < MAX_MPLS_LABELS) f.mplsLabels[f.mplsCount] = entry >>> 12
    f.mplsCount++
    f.layers |= LAYER.MPLS
    off += 4
    if ((entry & BOTTOM_OF_STACK) !== 0) break
  }
  if (off < end) decodeIp(buf[off] >> 4, buf, off, end, f)
}
