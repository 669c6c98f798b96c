import {LAYER, type Fields} from './fields.js'
import {u16, u32} from './protocols.js'

const ARP_FIXED_HEADER = 8

/**
 * ARP and RARP: operation and the sender/target protocol addresses when they are IPv4-sized. Offsets follow the
 * header's own address lengths; for Ethernet/IPv4 they are tcpdump's fixed arp[14] and arp[24].
 */
export function decodeArp(buf: Uint8Array, off: number, end: number, f: Fields): void {
  f.l3Offset = off
  if (off + ARP_FIXED_HEADER > end) return
  const hardwareLen = buf[off + 4]
  if (buf[off + 5] !== 4) return
  const sender = off + ARP_FIXED_HEADER + hardwareLen
  const target = sender + 4 + hardwareLen
  if (target + 4 > end) return
  f.arpOp = u16(buf, off + 6)
  f.arpSenderIp = u32(buf, sender)
  f.arpTargetIp = u32(buf, target)
  f.layers |= LAYER.ARP
}
