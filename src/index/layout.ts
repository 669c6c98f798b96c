/*
 * Key layout of the LevelDB index (version 5). Every key starts with the layout version, so a newer layout can
 * live beside (and replace) an older one: opening an index for writing drops the keys of older layouts.
 *
 *   v5/meta                              {"version":5,"nextFileId":N}
 *   v5/p/<path>                          file id (the live entry for that path)
 *   v5/f/<fileId>                        file record (JSON): size, mtime, times, reader state, end of indexed records
 *   v5/fp/<fileId>                       the "field/value" names of the file's postings (to delete them)
 *   v5/g/<fileId>/<block>                byte offsets of record groups block·1024 … block·1024+1024 (varint deltas;
 *                                        the last block ends with the end of the last indexed record)
 *   v5/fl/<fileId>/<chunk>               flows chunk·64 … chunk·64+63 (length-prefixed flow records, see writeFlow)
 *   v5/x/<field>/<value>/<fileId>        posting: the ids of that file's flows having that field value (varints)
 *   v5/x/ps|pd/<port bucket>/<fileId>    port postings, PORTS_PER_BUCKET ports a key: per port present, its offset
 *                                        in the bucket, its number of flows, their ids (varints)
 *
 * Values are fixed-width lowercase hex so that a CIDR or a port range is one key range.
 * Version 4 split v3's one value of all group offsets per file into blocks: a query read and decoded every group
 * offset of each file with a candidate, ~180 k per GB, however few groups it wanted. Version 5 put ports in
 * buckets: ephemeral ports gave about one posting key per flow, 97 % of all keys, and writing them was most of
 * the single LevelDB writer's work (16 ports a key cut that work by 4×; 64 by ~10×, and a query for one port decodes
 * the other 63 ports' short lists besides, microseconds).
 */
import {FLAG_MACS, FLAG_MPLS_DEEP, FLAG_PORTS, FLAG_VLAN_DEEP, FLOW_KIND, W, type FlowColumns, type FlowInfo} from './flow-key.js'

export const LAYOUT = 'v5'
export const LAYOUT_VERSION = 5

export const FIELD = {
  KIND: 'k',
  IP4_SRC: 'a4s',
  IP4_DST: 'a4d',
  IP6_SRC: 'a6s',
  IP6_DST: 'a6d',
  PORT_SRC: 'ps',
  PORT_DST: 'pd',
  PROTO: 'pr',
  ETHERTYPE: 'et',
  VLAN: 'vl',
  MPLS: 'ml',
  MAC_SRC: 'ms',
  MAC_DST: 'md',
} as const

/** Posting value meaning "deeper in the stack than the index keeps": always a candidate for VLAN/MPLS lookups. */
export const DEEP = 'deep'

export const metaKey = `${LAYOUT}/meta`
export const pathKey = (path: string): string => `${LAYOUT}/p/${path}`
export const fileKey = (fileId: string): string => `${LAYOUT}/f/${fileId}`
export const postingListKey = (fileId: string): string => `${LAYOUT}/fp/${fileId}`
export const groupsPrefix = (fileId: string): string => `${LAYOUT}/g/${fileId}/`
/** Record groups per block of group offsets (each block also holds the next block's first offset). */
export const GROUP_BLOCK_BITS = 10
export const GROUPS_PER_BLOCK = 1 << GROUP_BLOCK_BITS
export const groupBlockKey = (fileId: string, block: number): string => `${groupsPrefix(fileId)}${hex(block, 8)}`
export const flowPrefix = (fileId: string): string => `${LAYOUT}/fl/${fileId}/`
/**
 * Flows per LevelDB value. With one key per flow, the per-entry costs (the batch on the single writer, the copy of
 * each value from the worker) took longer than encoding the flows.
 */
export const FLOWS_PER_CHUNK = 64
export const flowChunkKey = (fileId: string, chunk: number): string => `${flowPrefix(fileId)}${hex(chunk, 8)}`
export const postingPrefix = (field: string, value: string): string => `${LAYOUT}/x/${field}/${value}/`
export const fileIdText = (n: number): string => hex(n, 8)

export function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0')
}

/** Hex digits of each field's values in posting keys (IPv6 addresses are 32, written as text). */
const WIDTH: Record<string, number> = {
  [FIELD.KIND]: 2, [FIELD.IP4_SRC]: 8, [FIELD.IP4_DST]: 8, [FIELD.PROTO]: 2, [FIELD.PORT_SRC]: 3, [FIELD.PORT_DST]: 3,
  [FIELD.ETHERTYPE]: 4, [FIELD.MAC_SRC]: 12, [FIELD.MAC_DST]: 12, [FIELD.VLAN]: 4, [FIELD.MPLS]: 8,
}

/** A numeric field value as posting keys spell it (a port: its bucket): what the index writes and a query looks up must agree. */
export function postingValue(field: string, value: number): string {
  return hex(PORT_FIELDS.has(field) ? value >>> PORT_BUCKET_BITS : value, WIDTH[field])
}

export const PORT_BUCKET_BITS = 6
export const PORTS_PER_BUCKET = 1 << PORT_BUCKET_BITS
const PORT_FIELDS: ReadonlySet<string> = new Set([FIELD.PORT_SRC, FIELD.PORT_DST])

/** The flow id lists of the ports in [low, high] held in a port bucket's value. */
export function decodePortBucket(value: Uint8Array, low: number, high: number, bucket: number): Float64Array[] {
  const r = new VarintReader(value)
  const out: Float64Array[] = []
  while (r.more) {
    const port = bucket * PORTS_PER_BUCKET + r.uint()
    const n = r.uint()
    if (port < low || port > high) {
      for (let i = 0; i < n; i++) r.uint()
      continue
    }
    out.push(r.ascending(n))
  }
  return out
}

/**
 * A file's postings: per field, each value's flow ids. Values are kept as numbers and spelled as key text once per
 * distinct value, not once per flow (a file has ~18 k flows but far fewer distinct addresses and ports).
 */
class PostingCollector {
  private readonly byField = new Map<string, Map<number | string, number[]>>()

  add(field: string, value: number | string, flowId: number): void {
    let values = this.byField.get(field)
    if (!values) this.byField.set(field, (values = new Map()))
    const ids = values.get(value)
    if (!ids) values.set(value, [flowId])
    else if (ids[ids.length - 1] !== flowId) ids.push(flowId)
  }

  /** The "field/value" names (one per line) and, packed in the same order, the encoded flow ids of each posting. */
  pack(): {names: string; values: PackedValues} {
    const names: string[] = []
    const values = new ValuePacker()
    for (const [field, byValue] of this.byField) {
      if (PORT_FIELDS.has(field)) {
        packPortBuckets(field, byValue as Map<number, number[]>, names, values)
        continue
      }
      for (const [value, ids] of byValue) {
        names.push(`${field}/${typeof value === 'number' ? postingValue(field, value) : value}`)
        writeAscending(values.writer, ids)
        values.endValue()
      }
    }
    return {names: names.join('\n'), values: values.done()}
  }
}

/** One value per bucket of ports: each port's offset in the bucket, its flow count, its flow ids. */
function packPortBuckets(field: string, byPort: Map<number, number[]>, names: string[], values: ValuePacker): void {
  const ports = Float64Array.from(byPort.keys()).sort()
  for (let i = 0; i < ports.length;) {
    const bucket = ports[i] >>> PORT_BUCKET_BITS
    names.push(`${field}/${postingValue(field, ports[i])}`)
    for (; i < ports.length && ports[i] >>> PORT_BUCKET_BITS === bucket; i++) {
      const ids = byPort.get(ports[i])!
      values.writer.uint(ports[i] & (PORTS_PER_BUCKET - 1))
      values.writer.uint(ids.length)
      writeAscending(values.writer, ids)
    }
    values.endValue()
  }
}

/**
 * Many LevelDB values in one buffer: value i is bytes[ends[i − 1] … ends[i]). A worker sends a file's ~18 k posting
 * values and its flow chunks as two of these rather than one buffer each (cloning them one by one cost ~20 ms a file).
 */
export interface PackedValues {
  bytes: Uint8Array
  ends: Uint32Array
}

export function packedValue(p: PackedValues, i: number): Uint8Array {
  return p.bytes.subarray(i === 0 ? 0 : p.ends[i - 1], p.ends[i])
}

class ValuePacker {
  readonly writer = new VarintWriter()
  private readonly ends: number[] = []

  /** The bytes written since the last call are one value. */
  endValue(): void {
    this.ends.push(this.writer.length)
  }

  done(): PackedValues {
    return {bytes: this.writer.done(), ends: Uint32Array.from(this.ends)}
  }
}

/** Files flow `id` (its key at keys[id·20…]) under every (field, value) it is found by. */
function addPostings(keys: Int32Array, id: number, to: PostingCollector): void {
  const at = id * W.COUNT
  const head = keys[at + W.HEAD]
  const kind = head & 0xff
  const flags = (head >>> 16) & 0xff
  const word = (i: number): number => keys[at + i] >>> 0
  const half = (i: number, high: boolean): number => (high ? keys[at + i] >>> 16 : keys[at + i] & 0xffff)
  to.add(FIELD.KIND, kind, id)
  if (kind === FLOW_KIND.IPV4 || kind === FLOW_KIND.ARP) {
    to.add(FIELD.IP4_SRC, word(W.SRC), id)
    to.add(FIELD.IP4_DST, word(W.DST), id)
  } else if (kind === FLOW_KIND.IPV6) {
    const six = (i: number): string => hex(word(i), 8) + hex(word(i + 1), 8) + hex(word(i + 2), 8) + hex(word(i + 3), 8)
    to.add(FIELD.IP6_SRC, six(W.SRC), id)
    to.add(FIELD.IP6_DST, six(W.DST), id)
  }
  if (kind === FLOW_KIND.IPV4 || kind === FLOW_KIND.IPV6) to.add(FIELD.PROTO, (head >>> 8) & 0xff, id)
  if (flags & FLAG_PORTS) {
    to.add(FIELD.PORT_SRC, half(W.PORTS, true), id)
    to.add(FIELD.PORT_DST, half(W.PORTS, false), id)
  }
  to.add(FIELD.ETHERTYPE, half(W.ETHERTYPE, false), id)
  if (flags & FLAG_MACS) {
    // 48-bit MACs are exact in a double: high 16 bits × 2^32 + low 32 bits.
    to.add(FIELD.MAC_SRC, half(W.MAC_HI, true) * 2 ** 32 + word(W.MAC_SRC_LO), id)
    to.add(FIELD.MAC_DST, half(W.MAC_HI, false) * 2 ** 32 + word(W.MAC_DST_LO), id)
  }
  const vlans = (head >>> 24) & 0xf
  for (let i = 0; i < vlans; i++) to.add(FIELD.VLAN, half(W.VLANS + (i >> 1), (i & 1) === 0), id)
  if (flags & FLAG_VLAN_DEEP) to.add(FIELD.VLAN, DEEP, id)
  const labels = head >>> 28
  for (let i = 0; i < labels; i++) to.add(FIELD.MPLS, word(W.MPLS + i), id)
  if (flags & FLAG_MPLS_DEEP) to.add(FIELD.MPLS, DEEP, id)
}

/** Appends unsigned integers (up to 2^53) as LEB128 varints. */
export class VarintWriter {
  private buf = Buffer.allocUnsafe(4096)
  private len = 0

  /** Starts a new value, keeping the buffer: one writer serves every flow of a file. */
  reset(): this {
    this.len = 0
    return this
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n))
    this.buf.copy(bigger, 0, 0, this.len)
    this.buf = bigger
  }

  uint(n: number): void {
    this.room(8)
    // Bit operations where they are exact (below 2^31: nearly every delta), division beyond.
    if (n < 0x80000000) {
      while (n >= 128) {
        this.buf[this.len++] = (n & 127) | 128
        n >>>= 7
      }
      this.buf[this.len++] = n
      return
    }
    while (n >= 128) {
      this.buf[this.len++] = (n % 128) | 128
      n = Math.floor(n / 128)
    }
    this.buf[this.len++] = n
  }

  get length(): number {
    return this.len
  }

  /** Appends what another writer holds. */
  append(other: VarintWriter): void {
    this.room(other.len)
    other.buf.copy(this.buf, this.len, 0, other.len)
    this.len += other.len
  }

  /** A 32-bit word as 4 bytes, little-endian. */
  word(n: number): void {
    this.room(4)
    const b = this.buf
    const p = this.len
    b[p] = n
    b[p + 1] = n >>> 8
    b[p + 2] = n >>> 16
    b[p + 3] = n >>> 24
    this.len = p + 4
  }

  /** A copy of the value written since the last reset. */
  done(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len))
  }
}

export class VarintReader {
  pos = 0

  constructor(private readonly buf: Uint8Array) {}

  get more(): boolean {
    return this.pos < this.buf.length
  }

  word(): number {
    const b = this.buf
    const p = this.pos
    this.pos = p + 4
    return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)
  }

  uint(): number {
    let n = 0
    let scale = 1
    for (;;) {
      const b = this.buf[this.pos++]
      n += (b & 127) * scale
      if (b < 128) return n
      scale *= 128
    }
  }

  /** `n` ascending numbers written as varint deltas (see writeAscending). */
  ascending(n: number): Float64Array {
    const out = new Float64Array(n)
    let prev = 0
    for (let i = 0; i < n; i++) out[i] = prev += this.uint()
    return out
  }
}

const flowScratch = new VarintWriter()

/**
 * Flow record: the key as a bitmap of its non-zero words then those words (most of the 20 are zero), packets,
 * bytes, first/last time, then the record groups delta-encoded.
 */
function writeFlow(w: VarintWriter, c: FlowColumns, id: number): void {
  const at = id * W.COUNT
  let present = 0
  for (let i = 0; i < W.COUNT; i++) if (c.keys[at + i] !== 0) present |= 1 << i
  w.uint(present)
  for (let i = 0; i < W.COUNT; i++) if (c.keys[at + i] !== 0) w.word(c.keys[at + i])
  w.uint(c.packets[id])
  w.uint(c.bytes[id])
  w.uint(c.firstSec[id] + 1) // -1 (no timed record) becomes 0
  w.uint(c.firstNsec[id])
  w.uint(c.lastSec[id] + 1)
  w.uint(c.lastNsec[id])
  const from = c.groupStart[id]
  const to = c.groupStart[id + 1]
  w.uint(to - from)
  // Not writeAscending: this loop sees only Uint32Arrays and stays monomorphic.
  const groups = c.groups
  let prev = 0
  for (let i = from; i < to; i++) {
    w.uint(groups[i] - prev)
    prev = groups[i]
  }
}

/** Flows [from, to) as one value: each record preceded by its length, so a reader can skip to the one it wants. */
function writeFlowChunk(w: VarintWriter, c: FlowColumns, from: number, to: number): void {
  for (let id = from; id < to; id++) {
    writeFlow(flowScratch.reset(), c, id)
    w.uint(flowScratch.length)
    w.append(flowScratch)
  }
}

/** The flows of a chunk whose place in it (0 … FLOWS_PER_CHUNK − 1) `wanted` accepts. */
export function decodeFlowChunk(value: Uint8Array, wanted: (place: number) => boolean): FlowInfo[] {
  const out: FlowInfo[] = []
  const r = new VarintReader(value)
  for (let place = 0; r.more; place++) {
    const length = r.uint()
    if (wanted(place)) out.push(decodeFlow(value.subarray(r.pos, r.pos + length)))
    r.pos += length
  }
  return out
}

function decodeFlow(value: Uint8Array): FlowInfo {
  const r = new VarintReader(value)
  const key = new Int32Array(W.COUNT)
  const present = r.uint()
  for (let i = 0; i < W.COUNT; i++) if (present & (1 << i)) key[i] = r.word()
  const packets = r.uint()
  const bytes = r.uint()
  const firstSec = r.uint() - 1
  const firstNsec = r.uint()
  const lastSec = r.uint() - 1
  const lastNsec = r.uint()
  const groups = r.ascending(r.uint())
  return {key, packets, bytes, firstSec, firstNsec, lastSec, lastNsec, groups}
}

/** Appends ascending numbers (flow ids, record groups, group starts), values[from, to), as varint deltas. */
function writeAscending(w: VarintWriter, values: ArrayLike<number>, from = 0, to = values.length): void {
  let prev = 0
  for (let i = from; i < to; i++) {
    w.uint(values[i] - prev)
    prev = values[i]
  }
}

/** Decodes ascending numbers (posting flow ids, a block of group offsets) straight into a typed array. */
export function decodeAscending(value: Uint8Array): Float64Array {
  const r = new VarintReader(value)
  const out = new Float64Array(value.length)
  let n = 0
  let prev = 0
  while (r.more) out[n++] = prev += r.uint()
  return out.subarray(0, n)
}

/** A file's index entries as LevelDB values: flow chunks, postings by "field/value", group offsets. */
export interface EncodedFileIndex {
  flowCount: number
  /** Chunk i holds flows i·FLOWS_PER_CHUNK … */
  flowChunks: PackedValues
  /** "field/value" of each posting, one per line, in the order of `postings`. */
  postingNames: string
  postings: PackedValues
  /** Block i holds the offsets of groups i·GROUPS_PER_BLOCK … i·GROUPS_PER_BLOCK + GROUPS_PER_BLOCK. */
  groupBlocks: PackedValues
  /** Where the last indexed record ends. */
  indexedEnd: number
}

/**
 * Encodes a file's flows (in the map worker, so the single LevelDB writer only writes). `groupStarts`: each group's
 * offset, then the end of the last indexed record.
 */
export function encodeFileIndex(flows: FlowColumns, groupStarts: Float64Array): EncodedFileIndex {
  const postings = new PostingCollector()
  for (let id = 0; id < flows.count; id++) addPostings(flows.keys, id, postings)
  const chunks = new ValuePacker()
  for (let at = 0; at < flows.count; at += FLOWS_PER_CHUNK) {
    writeFlowChunk(chunks.writer, flows, at, Math.min(at + FLOWS_PER_CHUNK, flows.count))
    chunks.endValue()
  }
  const {names, values} = postings.pack()
  const groups = groupStarts.length - 1
  const blocks = new ValuePacker()
  for (let first = 0; first < groups; first += GROUPS_PER_BLOCK) {
    writeAscending(blocks.writer, groupStarts, first, Math.min(first + GROUPS_PER_BLOCK, groups) + 1)
    blocks.endValue()
  }
  return {
    flowCount: flows.count,
    flowChunks: chunks.done(),
    postingNames: names,
    postings: values,
    groupBlocks: blocks.done(),
    indexedEnd: groupStarts[groups],
  }
}
