import {decodeArp} from './arp.js'
import {LAYER, MAX_VLAN_TAGS, type Fields} from './fields.js'
import {decodeIp} from './ip.js'
import {decodeMpls} from './mpls.js'
import {ETHERTYPE, u16} from './protocols.js'

const VLAN_TAG = 4

/**
 * Decodes what follows a link header that names its payload by ethertype: any depth of 802.1Q/802.1ad tags
 * (every id is recorded, outermost first), then MPLS, IPv4, IPv6, ARP or RARP. Link types without ethertypes
 * pass the equivalent one.
 */
export function decodeEtherType(buf: Uint8Array, off: number, end: number, type: number, f: Fields): void {
  f.outerEtherType = type
  while ((type === ETHERTYPE.VLAN || type === ETHERTYPE.QINQ || type === ETHERTYPE.QINQ_OLD) && off + VLAN_TAG <= end) {
    if (f.vlanCount < MAX_VLAN_TAGS) f.vlanIds[f.vlanCount] = u16(buf, off) & 0x0fff
    f.vlanCount++
    type = u16(buf, off + 2)
    off += VLAN_TAG
  }
  if (f.vlanCount > 0) f.layers |= LAYER.VLAN
  f.etherType = type
  switch (type) {
    case ETHERTYPE.IPV4:
      decodeIp(4, buf, off, end, f)
      return
    case ETHERTYPE.IPV6:
      decodeIp(6, buf, off, end, f)
      return
    case ETHERTYPE.ARP:
    case ETHERTYPE.RARP:
      decodeArp(buf, off, end, f)
      return
    case ETHERTYPE.MPLS:
    case ETHERTYPE.MPLS_MULTICAST:
      decodeMpls(buf, off, end, f)
      return
  }
}
