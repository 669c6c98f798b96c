/*
 * Per-file flow table: packets grouped by flow key (addresses, protocol, ports, ethertype, MACs, VLAN and MPLS
 * stack) with counts, first/last time and the groups of records they are in. Keys live in one growing byte
 * array and are found through an open-addressing hash table, so a packet of a known flow allocates nothing.
 */
import {Fields, LAYER, PORT_LAYERS} from '../decode/fields.js'

/**
 * Layout of a flow key: 20 32-bit words, written and compared as numbers (no byte order games on the hot path).
 * Values deeper than the key holds are marked by the overflow flags.
 */
export const W = {
  HEAD: 0, // kind | proto << 8 | flags << 16 | vlan count << 24 | mpls count << 28
  PORTS: 1, // source port << 16 | destination port
  ETHERTYPE: 2,
  SRC: 3, // 4 words: IPv4 in the first, IPv6, or ARP sender
  DST: 7,
  MAC_HI: 11, // source MAC's high 16 bits << 16 | destination MAC's high 16 bits
  MAC_SRC_LO: 12,
  MAC_DST_LO: 13,
  VLANS: 14, // 2 words, two ids each (the first in the high half)
  MPLS: 16, // 4 words
  COUNT: 20,
} as const
export const KEY_VLANS = 4
export const KEY_MPLS = 4
export const FLAG_PORTS = 1
export const FLAG_MACS = 2
export const FLAG_VLAN_DEEP = 4
export const FLAG_MPLS_DEEP = 8

export const FLOW_KIND = {OTHER: 0, IPV4: 4, IPV6: 6, ARP: 1} as const

/** Builds flow keys from decoded fields into one reused word array. */
export class FlowKeyWriter {
  readonly words = new Int32Array(W.COUNT)

  write(f: Fields): void {
    // Straight-line stores (no loops, no Math.min): this runs once per packet of the index build.
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

const KEY_WORDS = W.COUNT
if (KEY_WORDS !== 20) throw new Error('sameKey() compares keys of 20 words: update it with the key layout')
const HASHED_WORDS = W.DST + 4

/**
 * A file's flows column by column, flow id = index: key words at id·20 in `keys`, its record groups at
 * groups[groupStart[id] … groupStart[id + 1]).
 */
export interface FlowColumns {
  count: number
  keys: Int32Array
  packets: Float64Array
  bytes: Float64Array
  firstSec: Float64Array
  firstNsec: Float64Array
  lastSec: Float64Array
  lastNsec: Float64Array
  groupStart: Uint32Array
  groups: Uint32Array
}

/** One flow's figures, as stored in the index. */
export interface FlowInfo {
  key: Int32Array
  packets: number
  bytes: number
  firstSec: number
  firstNsec: number
  lastSec: number
  lastNsec: number
  /** The record groups (record number >> GROUP_BITS) holding its packets, ascending, each once. */
  groups: ArrayLike<number>
}

/**
 * Records are indexed by group of 8 consecutive records rather than one by one: a flow lists the groups its packets
 * are in, and a file keeps the byte offset where each group starts. Group numbers are small and a busy flow has
 * several packets per group: on the bench dataset the index is 1.4 % of the pcap bytes instead of 2.6-3.7 % with a
 * byte offset per packet. A query reads its candidate groups whole (~0.8 KB each there) and its exact per-packet
 * check drops the other flows' records; 16 per group made the index 1.3 % and broad queries ~10 % slower.
 */
export const GROUP_BITS = 3
export const GROUP_RECORDS = 1 << GROUP_BITS

export class FlowTable {
  private keys = new Int32Array(KEY_WORDS * 1024)
  private slots = new Int32Array(2048).fill(-1)
  private count = 0
  private packets = new Float64Array(1024)
  private bytes = new Float64Array(1024)
  private firstSec = new Float64Array(1024)
  private firstNsec = new Float64Array(1024)
  private lastSec = new Float64Array(1024)
  private lastNsec = new Float64Array(1024)
  /** The last record group logged per flow (-1: none yet). */
  private lastGroup = new Float64Array(1024)
  /** Per (flow, group) pair, in file order: the flow id and the group. Grouped by flow only at the end. */
  private pktFlow = new Uint32Array(1 << 16)
  private pktGroup = new Uint32Array(1 << 16)
  private pktCount = 0

  get flowCount(): number {
    return this.count
  }

  /**
   * Adds one packet whose key is in `key` (FlowKeyWriter.words), a record of group `group` of its file (record
   * number >> GROUP_BITS). Untimed records (sec < 0) leave first/last.
   */
  add(key: Int32Array, group: number, wireLen: number, sec: number, nsec: number): void {
    const id = this.lookup(key)
    this.packets[id]++
    this.bytes[id] += wireLen
    if (sec >= 0) {
      if (this.firstSec[id] < 0 || sec < this.firstSec[id] || (sec === this.firstSec[id] && nsec < this.firstNsec[id])) {
        this.firstSec[id] = sec
        this.firstNsec[id] = nsec
      }
      if (sec > this.lastSec[id] || (sec === this.lastSec[id] && nsec > this.lastNsec[id])) {
        this.lastSec[id] = sec
        this.lastNsec[id] = nsec
      }
    }
    if (group === this.lastGroup[id]) return
    this.lastGroup[id] = group
    if (this.pktCount === this.pktFlow.length) {
      this.pktFlow = grow(this.pktFlow, new Uint32Array(this.pktFlow.length * 2))
      this.pktGroup = grow(this.pktGroup, new Uint32Array(this.pktGroup.length * 2))
    }
    this.pktFlow[this.pktCount] = id
    this.pktGroup[this.pktCount++] = group
  }

  /**
   * Hash of the key words that tell flows apart in practice (head, ports, ethertype, addresses): FNV-1a style over
   * 32-bit words. The MAC/VLAN/MPLS words still take part in the full comparison on lookup.
   */
  private static hash(key: Int32Array, at: number): number {
    let h = 0x811c9dc5
    for (let i = 0; i < HASHED_WORDS; i++) h = Math.imul(h ^ key[at + i], 0x01000193)
    return (h ^ (h >>> 15)) >>> 0
  }

  private lookup(key: Int32Array): number {
    const mask = this.slots.length - 1
    const keys = this.keys
    for (let s = FlowTable.hash(key, 0) & mask; ; s = (s + 1) & mask) {
      const id = this.slots[s]
      if (id < 0) return this.insert(key, s)
      if (sameKey(keys, id * KEY_WORDS, key)) return id
    }
  }

  private insert(key: Int32Array, slot: number): number {
    const id = this.count++
    if ((id + 1) * KEY_WORDS > this.keys.length) this.growFlows()
    this.keys.set(key, id * KEY_WORDS)
    this.slots[slot] = id
    this.firstSec[id] = -1
    this.lastSec[id] = -1
    this.lastGroup[id] = -1
    if (this.count * 2 > this.slots.length) this.rehash()
    return id
  }

  private growFlows(): void {
    const n = this.packets.length * 2
    this.keys = grow(this.keys, new Int32Array(KEY_WORDS * n))
    this.packets = grow(this.packets, new Float64Array(n))
    this.bytes = grow(this.bytes, new Float64Array(n))
    this.firstSec = grow(this.firstSec, new Float64Array(n))
    this.firstNsec = grow(this.firstNsec, new Float64Array(n))
    this.lastSec = grow(this.lastSec, new Float64Array(n))
    this.lastNsec = grow(this.lastNsec, new Float64Array(n))
    this.lastGroup = grow(this.lastGroup, new Float64Array(n))
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2).fill(-1)
    const mask = this.slots.length - 1
    for (let id = 0; id < this.count; id++) {
      let s = FlowTable.hash(this.keys, id * KEY_WORDS) & mask
      while (this.slots[s] >= 0) s = (s + 1) & mask
      this.slots[s] = id
    }
  }

  /**
   * The flows as columns, with their record groups (a counting sort over the log keeps file order per flow). The
   * index encoder reads them in place: an object and a key copy per flow cost a third of encoding a file.
   */
  columns(): FlowColumns {
    const groupStart = new Uint32Array(this.count + 1)
    for (let i = 0; i < this.pktCount; i++) groupStart[this.pktFlow[i] + 1]++
    for (let id = 0; id < this.count; id++) groupStart[id + 1] += groupStart[id]
    const groups = new Uint32Array(this.pktCount)
    const fill = groupStart.slice(0, this.count)
    for (let i = 0; i < this.pktCount; i++) groups[fill[this.pktFlow[i]]++] = this.pktGroup[i]
    return {
      count: this.count, keys: this.keys, packets: this.packets, bytes: this.bytes, firstSec: this.firstSec,
      firstNsec: this.firstNsec, lastSec: this.lastSec, lastNsec: this.lastNsec, groupStart, groups,
    }
  }
}

/**
 * keys[at, at + 20) equals key: written out, branch-free. A loop with an early exit spent ~30 ns per packet here
 * (a bounds-checked compare and a branch per word), a third of the whole table update.
 */
function sameKey(keys: Int32Array, at: number, key: Int32Array): boolean {
  return ((keys[at] ^ key[0]) | (keys[at + 1] ^ key[1]) | (keys[at + 2] ^ key[2]) | (keys[at + 3] ^ key[3]) |
    (keys[at + 4] ^ key[4]) | (keys[at + 5] ^ key[5]) | (keys[at + 6] ^ key[6]) | (keys[at + 7] ^ key[7]) |
    (keys[at + 8] ^ key[8]) | (keys[at + 9] ^ key[9]) | (keys[at + 10] ^ key[10]) | (keys[at + 11] ^ key[11]) |
    (keys[at + 12] ^ key[12]) | (keys[at + 13] ^ key[13]) | (keys[at + 14] ^ key[14]) | (keys[at + 15] ^ key[15]) |
    (keys[at + 16] ^ key[16]) | (keys[at + 17] ^ key[17]) | (keys[at + 18] ^ key[18]) | (keys[at + 19] ^ key[19])) === 0
}

function grow<T extends Float64Array | Uint32Array | Int32Array>(from: T, to: T): T {
  to.set(from)
  return to
}
