/*
 * The flows of a capture as the JavaScript decoder (the one the exact filter uses) sees them, built the plain way:
 * the reference that native/index_native.c must match. Written for clarity, not speed.
 */
import {decode} from '../../src/decode/decode.js'
import {Fields, LAYER, PORT_LAYERS} from '../../src/decode/fields.js'
import {
  FLAG_MACS, FLAG_MPLS_DEEP, FLAG_PORTS, FLAG_VLAN_DEEP, FLOW_KIND, GROUP_BITS, KEY_MPLS, KEY_VLANS, W, type FlowInfo,
} from '../../src/index/flow-key.js'
import type {PacketRecord} from '../../src/pcap/reader.js'

/** A flow key from decoded fields (the layout of src/index/flow-key.ts). */
class FlowKeyWriter {
  readonly words = new Int32Array(W.COUNT)

  write(f: Fields): void {
    const w = this.words
    const L = f.layers
    let kind: number = FLOW_KIND.OTHER
    let flags = 0
    if (L & LAYER.IPV4) {
      kind = FLOW_KIND.IPV4
      w[W.SRC] = f.ip4Src
      w[W.DST] = f.ip4Dst
      w[W.SRC + 1] = w[W.SRC + 2] = w[W.SRC + 3] = w[W.DST + 1] = w[W.DST + 2] = w[W.DST + 3] = 0
    } else if (L & LAYER.IPV6) {
      kind = FLOW_KIND.IPV6
      const s = f.ip6Src
      const d = f.ip6Dst
      w[W.SRC] = s[0]
      w[W.SRC + 1] = s[1]
      w[W.SRC + 2] = s[2]
      w[W.SRC + 3] = s[3]
      w[W.DST] = d[0]
      w[W.DST + 1] = d[1]
      w[W.DST + 2] = d[2]
      w[W.DST + 3] = d[3]
    } else {
      if (L & LAYER.ARP) {
        kind = FLOW_KIND.ARP
        w[W.SRC] = f.arpSenderIp
        w[W.DST] = f.arpTargetIp
      } else {
        w[W.SRC] = w[W.DST] = 0
      }
      w[W.SRC + 1] = w[W.SRC + 2] = w[W.SRC + 3] = w[W.DST + 1] = w[W.DST + 2] = w[W.DST + 3] = 0
    }
    const proto = L & (LAYER.IPV4 | LAYER.IPV6) ? f.ipProto : 0
    if (L & PORT_LAYERS) {
      flags |= FLAG_PORTS
      w[W.PORTS] = (f.srcPort << 16) | f.dstPort
    } else {
      w[W.PORTS] = 0
    }
    w[W.ETHERTYPE] = f.etherType & 0xffff
    if (L & LAYER.MAC) {
      flags |= FLAG_MACS
      w[W.MAC_HI] = (f.macSrcHi << 16) | f.macDstHi
      w[W.MAC_SRC_LO] = f.macSrcLo
      w[W.MAC_DST_LO] = f.macDstLo
    } else {
      w[W.MAC_HI] = w[W.MAC_SRC_LO] = w[W.MAC_DST_LO] = 0
    }
    const vlanCount = L & LAYER.VLAN ? f.vlanCount : 0
    const vlans = vlanCount > KEY_VLANS ? KEY_VLANS : vlanCount
    if (vlanCount > KEY_VLANS) flags |= FLAG_VLAN_DEEP
    const v = f.vlanIds
    w[W.VLANS] = vlans === 0 ? 0 : (v[0] << 16) | (vlans > 1 ? v[1] : 0)
    w[W.VLANS + 1] = vlans < 3 ? 0 : (v[2] << 16) | (vlans > 3 ? v[3] : 0)
    const labelCount = L & LAYER.MPLS ? f.mplsCount : 0
    const labels = labelCount > KEY_MPLS ? KEY_MPLS : labelCount
    if (labelCount > KEY_MPLS) flags |= FLAG_MPLS_DEEP
    const m = f.mplsLabels
    w[W.MPLS] = labels > 0 ? m[0] : 0
    w[W.MPLS + 1] = labels > 1 ? m[1] : 0
    w[W.MPLS + 2] = labels > 2 ? m[2] : 0
    w[W.MPLS + 3] = labels > 3 ? m[3] : 0
    w[W.HEAD] = kind | (proto << 8) | (flags << 16) | (vlans << 24) | (labels << 28)
  }
}

export type ReferenceFlow = Omit<FlowInfo, 'key' | 'groups'> & {key: number[]; groups: number[]}

/** Flows in order of first appearance, and each record group's start offset followed by the end of the last record. */
export class ReferenceFlows {
  readonly flows: ReferenceFlow[] = []
  readonly groupStarts: number[] = []
  private readonly byKey = new Map<string, ReferenceFlow>()
  private readonly fields = new Fields()
  private readonly writer = new FlowKeyWriter()
  private records = 0
  private end = 0

  add(rec: PacketRecord): void {
    const n = this.records++
    const group = n >> GROUP_BITS
    if (group === this.groupStarts.length) this.groupStarts.push(rec.offset)
    this.end = rec.offset + rec.recordLen
    decode(rec.buf, rec.dataStart, rec.caplen, rec.linkType, this.fields, rec.origLen)
    this.writer.write(this.fields)
    const key = Array.from(this.writer.words)
    let flow = this.byKey.get(key.join())
    if (!flow) {
      flow = {key, packets: 0, bytes: 0, firstSec: -1, firstNsec: 0, lastSec: -1, lastNsec: 0, groups: []}
      this.byKey.set(key.join(), flow)
      this.flows.push(flow)
    }
    flow.packets++
    flow.bytes += rec.origLen
    if (rec.hasTs) {
      const [sec, nsec] = [rec.tsSec, rec.tsNsec]
      if (flow.firstSec < 0 || sec < flow.firstSec || (sec === flow.firstSec && nsec < flow.firstNsec)) {
        flow.firstSec = sec
        flow.firstNsec = nsec
      }
      if (sec > flow.lastSec || (sec === flow.lastSec && nsec > flow.lastNsec)) {
        flow.lastSec = sec
        flow.lastNsec = nsec
      }
    }
    if (flow.groups.at(-1) !== group) flow.groups.push(group)
  }

  /** groupStarts with the end of the last record appended. */
  offsets(): number[] {
    return [...this.groupStarts, this.end]
  }
}
