/*
 * Per-file flow table: packets grouped by flow key (addresses, protocol, ports, ethertype, MACs, VLAN and MPLS
 * stack) with counts, first/last time and the stream offsets of their records. Keys live in one growing byte
 * array and are found through an open-addressing hash table, so a packet of a known flow allocates nothing.
 */
import {Fields, LAYER, PORT_LAYERS} from '../decode/fields.js'

/** Layout of a flow key (bytes). Values deeper than the key holds are marked by the overflow flag. */
export const KEY = {
  KIND: 0, // see FLOW_KIND
  PROTO: 1,
  SPORT: 2,
  DPORT: 4,
  ETHERTYPE: 6,
  SRC: 8, // 16 bytes: IPv4 in the first 4, IPv6, or ARP sender
  DST: 24,
  MAC_SRC: 40, // 6 bytes
  MAC_DST: 46,
  FLAGS: 52, // bit 0 ports present, bit 1 MACs present, bit 2 VLAN stack deeper than kept, bit 3 MPLS deeper
  VLAN_COUNT: 53,
  MPLS_COUNT: 54,
  VLANS: 56, // 4 × u16
  MPLS: 64, // 4 × u32
  SIZE: 80,
} as const
export const KEY_VLANS = 4
export const KEY_MPLS = 4
export const FLAG_PORTS = 1
export const FLAG_MACS = 2
export const FLAG_VLAN_DEEP = 4
export const FLAG_MPLS_DEEP = 8

export const FLOW_KIND = {OTHER: 0, IPV4: 4, IPV6: 6, ARP: 1} as const

/**
 * Builds flow keys from decoded fields into one reused, 4-byte aligned buffer, so the table can hash and compare
 * keys as 32-bit words. DataView writes: Buffer's checked writeUInt*BE showed in profiles.
 */
export class FlowKeyWriter {
  readonly key = Buffer.from(new ArrayBuffer(KEY.SIZE))
  readonly words = new Int32Array(this.key.buffer)
  private readonly view = new DataView(this.key.buffer)

  write(f: Fields): void {
    const v = this.view
    this.words.fill(0)
    const L = f.layers
    let flags = 0
    if (L & LAYER.IPV4) {
      v.setUint8(KEY.KIND, FLOW_KIND.IPV4)
      v.setUint32(KEY.SRC, f.ip4Src)
      v.setUint32(KEY.DST, f.ip4Dst)
    } else if (L & LAYER.IPV6) {
      v.setUint8(KEY.KIND, FLOW_KIND.IPV6)
      for (let i = 0; i < 4; i++) {
        v.setUint32(KEY.SRC + 4 * i, f.ip6Src[i])
        v.setUint32(KEY.DST + 4 * i, f.ip6Dst[i])
      }
    } else if (L & LAYER.ARP) {
      v.setUint8(KEY.KIND, FLOW_KIND.ARP)
      v.setUint32(KEY.SRC, f.arpSenderIp)
      v.setUint32(KEY.DST, f.arpTargetIp)
    }
    if (L & (LAYER.IPV4 | LAYER.IPV6)) v.setUint8(KEY.PROTO, f.ipProto)
    if (L & PORT_LAYERS) {
      flags |= FLAG_PORTS
      v.setUint16(KEY.SPORT, f.srcPort)
      v.setUint16(KEY.DPORT, f.dstPort)
    }
    v.setUint16(KEY.ETHERTYPE, f.etherType & 0xffff)
    if (L & LAYER.MAC) {
      flags |= FLAG_MACS
      v.setUint16(KEY.MAC_SRC, f.macSrcHi)
      v.setUint32(KEY.MAC_SRC + 2, f.macSrcLo)
      v.setUint16(KEY.MAC_DST, f.macDstHi)
      v.setUint32(KEY.MAC_DST + 2, f.macDstLo)
    }
    const vlans = L & LAYER.VLAN ? f.vlanCount : 0
    if (vlans > KEY_VLANS) flags |= FLAG_VLAN_DEEP
    const keptVlans = Math.min(vlans, KEY_VLANS)
    v.setUint8(KEY.VLAN_COUNT, keptVlans)
    for (let i = 0; i < keptVlans; i++) v.setUint16(KEY.VLANS + 2 * i, f.vlanIds[i])
    const labels = L & LAYER.MPLS ? f.mplsCount : 0
    if (labels > KEY_MPLS) flags |= FLAG_MPLS_DEEP
    const keptLabels = Math.min(labels, KEY_MPLS)
    v.setUint8(KEY.MPLS_COUNT, keptLabels)
    for (let i = 0; i < keptLabels; i++) v.setUint32(KEY.MPLS + 4 * i, f.mplsLabels[i])
    v.setUint8(KEY.FLAGS, flags)
  }
}

const KEY_WORDS = KEY.SIZE / 4

/** One flow's figures, as stored in the index. */
export interface FlowInfo {
  key: Buffer
  packets: number
  bytes: number
  firstSec: number
  firstNsec: number
  lastSec: number
  lastNsec: number
  /** Record offsets in file order. */
  offsets: ArrayLike<number>
}

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
  /** Per packet, in file order: the flow id and the record offset. Grouped by flow only at the end. */
  private pktFlow = new Uint32Array(1 << 16)
  private pktOffset = new Float64Array(1 << 16)
  private pktCount = 0

  get flowCount(): number {
    return this.count
  }

  /** Adds one packet whose key is in `key` (FlowKeyWriter.words). Untimed records (sec < 0) leave first/last. */
  add(key: Int32Array, offset: number, wireLen: number, sec: number, nsec: number): void {
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
    if (this.pktCount === this.pktFlow.length) {
      this.pktFlow = grow(this.pktFlow, new Uint32Array(this.pktFlow.length * 2))
      this.pktOffset = grow(this.pktOffset, new Float64Array(this.pktOffset.length * 2))
    }
    this.pktFlow[this.pktCount] = id
    this.pktOffset[this.pktCount++] = offset
  }

  /** Hash of the key words (FNV-1a style over 32-bit words: keys differ mostly in addresses and ports). */
  private static hash(key: Int32Array, at: number): number {
    let h = 0x811c9dc5
    for (let i = 0; i < KEY_WORDS; i++) h = Math.imul(h ^ key[at + i], 0x01000193)
    return (h ^ (h >>> 15)) >>> 0
  }

  private lookup(key: Int32Array): number {
    const mask = this.slots.length - 1
    const keys = this.keys
    for (let s = FlowTable.hash(key, 0) & mask; ; s = (s + 1) & mask) {
      const id = this.slots[s]
      if (id < 0) return this.insert(key, s)
      const at = id * KEY_WORDS
      let i = 0
      while (i < KEY_WORDS && keys[at + i] === key[i]) i++
      if (i === KEY_WORDS) return id
    }
  }

  private insert(key: Int32Array, slot: number): number {
    const id = this.count++
    if ((id + 1) * KEY_WORDS > this.keys.length) this.growFlows()
    this.keys.set(key, id * KEY_WORDS)
    this.slots[slot] = id
    this.firstSec[id] = -1
    this.lastSec[id] = -1
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

  /** The flows with their offsets grouped (a counting sort over the packet log keeps file order per flow). */
  flows(): FlowInfo[] {
    const start = new Uint32Array(this.count + 1)
    for (let i = 0; i < this.pktCount; i++) start[this.pktFlow[i] + 1]++
    for (let id = 0; id < this.count; id++) start[id + 1] += start[id]
    const grouped = new Float64Array(this.pktCount)
    const fill = start.slice(0, this.count)
    for (let i = 0; i < this.pktCount; i++) grouped[fill[this.pktFlow[i]]++] = this.pktOffset[i]
    const out: FlowInfo[] = []
    for (let id = 0; id < this.count; id++) {
      out.push({
        key: Buffer.from(this.keys.slice(id * KEY_WORDS, (id + 1) * KEY_WORDS).buffer),
        packets: this.packets[id],
        bytes: this.bytes[id],
        firstSec: this.firstSec[id],
        firstNsec: this.firstNsec[id],
        lastSec: this.lastSec[id],
        lastNsec: this.lastNsec[id],
        // Views into one shared array: cheap to build, and one buffer to send back from a worker.
        offsets: grouped.subarray(start[id], start[id + 1]),
      })
    }
    return out
  }
}

function grow<T extends Float64Array | Uint32Array | Int32Array>(from: T, to: T): T {
  to.set(from)
  return to
}
