/*
 * Builds the dataset the map benchmark reads (default 2.2 GB under bench/data/dataset/, gitignored): what a
 * multi-threaded sensor (Suricata, gopherCap's inputs) leaves on disk after a day.
 *
 * Real public captures (Ethernet, µs) are copied many times, each copy moved to its own random place in one day
 * (sub-second offsets too, so no two copies line up), and all copies are merged into one time-ordered stream.
 * Every record goes to worker w = hash(flow, copy) mod N, as a capture thread pinned by flow hash would get it; the
 * flow hash is symmetric, so both directions of a connection stay together. Each worker writes its own sequence of
 * files (worker-<w>/capture-<w>-<seq>.pcap) and rotates after ~100-200 MB, so every sequence is time-ordered and
 * the sequences interleave in time. Our reader loads the sources; our PcapWriter writes µs pcap, as the sources are.
 *
 * A finished dataset carries COMPLETE.json (parameters and totals); a later run with the same parameters reuses it.
 *
 *   node --import tsx bench/make-dataset.ts [--size-gb 2.2] [--workers 4] [--rotate-mb 150] [--seed 1] [--force]
 */
import {existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {parseArgs} from 'node:util'
import {CaptureReader} from '../src/pcap/reader.js'
import {AtomicFileSink, PcapWriter, type WritablePacket} from '../src/pcap/writer.js'
import {Prng} from './prng.js'

const HERE = dirname(fileURLToPath(import.meta.url))
export const DATASET_DIR = join(HERE, 'data/dataset')
const SHARED = resolve(HERE, '../../shared/pcaps')
const MARKER = 'COMPLETE.json'
const LINKTYPE_ETHERNET = 1
const DAY_US = 86400e6
/** 2024-03-01T00:00:00Z: the day every copy is moved into. */
const DAY_START_US = 1709251200e6

/**
 * The sources and the share of the dataset's bytes each makes up. zeek__ssh.pcap is left out on purpose: its
 * packets spread over three years, so any copy of it would stretch the one-day dataset to years of near-empty files.
 */
const SOURCES = [
  {file: 'mercury__4SICS-GeekLounge-151020.pcap', share: 0.65}, // 7 h of mixed ICS/office traffic: the bulk
  {file: 'zeek__echo-connections.pcap', share: 0.3}, // 6.5 s bursts of 500 TCP streams: high packet rates
  {file: 'tcpreplay__test.pcap', share: 0.025}, // 802.1Q, MPLS, IPv6, routing protocols
  {file: 'tcpreplay__test.rewrite_vlan802.1ad.pcap', share: 0.025}, // the same in QinQ
]

export interface DatasetParams {
  sizeBytes: number
  workers: number
  rotateBytes: number
  seed: number
  sources: string[]
}

export interface DatasetSummary {
  params: DatasetParams
  files: {path: string; bytes: number; packets: number}[]
  bytes: number
  packets: number
  /** First and last timestamps, µs since the epoch. */
  firstUs: number
  lastUs: number
}

/** One source held in memory: packet bytes back to back plus per-record columns. */
interface Source {
  name: string
  data: Buffer
  start: Uint32Array
  caplen: Uint32Array
  origLen: Uint32Array
  tsUs: Float64Array
  flow: Uint32Array
  count: number
  /** Bytes one copy adds to a pcap file (record headers included). */
  bytes: number
  snaplen: number
}

async function loadSource(path: string): Promise<Source> {
  const reader = await CaptureReader.open(path)
  const n = 1 << 20
  const src: Source = {
    name: path, data: Buffer.allocUnsafe(0), start: new Uint32Array(n), caplen: new Uint32Array(n),
    origLen: new Uint32Array(n), tsUs: new Float64Array(n), flow: new Uint32Array(n), count: 0, bytes: 0,
    snaplen: reader.snaplen,
  }
  const chunks: Buffer[] = []
  let used = 0
  try {
    await reader.forEach((rec) => {
      if (rec.linkType !== LINKTYPE_ETHERNET) throw new Error(`${path}: link type ${rec.linkType}, want Ethernet`)
      if (src.count === src.start.length) throw new Error(`${path}: more than ${n} packets; pick a smaller source`)
      const i = src.count++
      chunks.push(Buffer.from(rec.buf.subarray(rec.dataStart, rec.dataStart + rec.caplen)))
      src.start[i] = used
      src.caplen[i] = rec.caplen
      src.origLen[i] = rec.origLen
      src.tsUs[i] = rec.tsSec * 1e6 + Math.floor(rec.tsNsec / 1000)
      src.flow[i] = flowHash(rec.buf, rec.dataStart, rec.caplen)
      used += rec.caplen
      src.bytes += 16 + rec.caplen
    })
    if (reader.truncated) throw new Error(`${path}: ends in a cut record; pick a complete source`)
  } finally {
    await reader.close()
  }
  src.data = Buffer.concat(chunks)
  return src
}

/** murmur3's finaliser: spreads every input bit over the word, so `% workers` is fair. */
function mix(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

function hashBytes(b: Buffer, at: number, len: number, seed: number): number {
  let h = seed
  for (let i = 0; i < len; i++) h = Math.imul(h ^ b[at + i], 16777619)
  return mix(h)
}

/**
 * A symmetric flow hash (addresses, protocol, ports; both directions equal because the endpoint hashes are added)
 * over Ethernet with any number of VLAN tags; other frames hash by their MAC pair.
 */
function flowHash(b: Buffer, at: number, len: number): number {
  const end = at + len
  let p = at + 14
  if (p > end) return 0
  let type = b.readUInt16BE(p - 2)
  while ((type === 0x8100 || type === 0x88a8) && p + 4 <= end) {
    type = b.readUInt16BE(p + 2)
    p += 4
  }
  let addrAt = 0
  let addrLen = 0
  let proto = 0
  let l4 = -1
  if (type === 0x0800 && p + 20 <= end) {
    addrAt = p + 12
    addrLen = 4
    proto = b[p + 9]
    if ((b.readUInt16BE(p + 6) & 0x1fff) === 0) l4 = p + (b[p] & 0x0f) * 4 // only first fragments carry ports
  } else if (type === 0x86dd && p + 40 <= end) {
    addrAt = p + 8
    addrLen = 16
    proto = b[p + 6]
    l4 = p + 40
  } else {
    return (hashBytes(b, at, 6, 1) + hashBytes(b, at + 6, 6, 1)) >>> 0
  }
  const ported = (proto === 6 || proto === 17 || proto === 132) && l4 >= 0 && l4 + 4 <= end
  const sport = ported ? b.readUInt16BE(l4) : 0
  const dport = ported ? b.readUInt16BE(l4 + 2) : 0
  const a = hashBytes(b, addrAt, addrLen, sport + 1)
  const z = hashBytes(b, addrAt + addrLen, addrLen, dport + 1)
  return mix((a + z + proto) >>> 0)
}

/** One shifted copy of a source in the merge: its next record and the offset added to its times. */
interface Cursor {
  src: Source
  next: number
  shiftUs: number
  salt: number
  ts: number
}

/** A binary min-heap of cursors by next timestamp: the k-way merge of all active copies. */
class CursorHeap {
  readonly items: Cursor[] = []

  push(c: Cursor): void {
    const h = this.items
    let i = h.push(c) - 1
    while (i > 0) {
      const up = (i - 1) >> 1
      if (h[up].ts <= c.ts) break
      h[i] = h[up]
      i = up
    }
    h[i] = c
  }

  /** Restores heap order after the top's timestamp grew, or removes the top when `drop`. */
  fixTop(drop: boolean): void {
    const h = this.items
    const c = drop ? h.pop()! : h[0]
    if (h.length === 0) return
    let i = 0
    for (;;) {
      let m = 2 * i + 1
      if (m >= h.length) break
      if (m + 1 < h.length && h[m + 1].ts < h[m].ts) m++
      if (h[m].ts >= c.ts) break
      h[i] = h[m]
      i = m
    }
    h[i] = c
  }
}

/** One worker's file sequence, rotating once a file reaches its (jittered) size. */
class WorkerOutput {
  private writer: PcapWriter | null = null
  private seq = 0
  private fileBytes = 0
  private filePackets = 0
  private limit = 0
  readonly files: DatasetSummary['files'] = []

  constructor(private readonly dir: string, private readonly id: number, private readonly params: DatasetParams,
    private readonly snaplen: number, private readonly prng: Prng) {
    mkdirSync(dir, {recursive: true})
  }

  private get path(): string {
    return join(this.dir, `capture-${this.id}-${String(this.seq).padStart(4, '0')}.pcap`)
  }

  async write(p: WritablePacket): Promise<void> {
    if (this.writer === null) {
      this.writer = new PcapWriter(new AtomicFileSink(this.path), LINKTYPE_ETHERNET, this.snaplen, false)
      this.fileBytes = 24
      this.filePackets = 0
      // ±25% around the rotation size, as sensors rotate on time or size and never land on round numbers.
      this.limit = this.params.rotateBytes * (0.75 + 0.5 * this.prng.float())
    }
    const pending = this.writer.write(p)
    if (pending) await pending
    this.fileBytes += 16 + p.caplen
    this.filePackets++
    if (this.fileBytes >= this.limit) await this.close()
  }

  async close(): Promise<void> {
    if (this.writer === null) return
    await this.writer.close()
    this.files.push({path: this.path, bytes: this.fileBytes, packets: this.filePackets})
    this.writer = null
    this.seq++
  }
}

async function build(params: DatasetParams, out: string): Promise<DatasetSummary> {
  const prng = new Prng(params.seed)
  const sources = await Promise.all(params.sources.map((f) => loadSource(join(SHARED, f))))
  const pending: Cursor[] = []
  sources.forEach((src, s) => {
    const share = SOURCES.find((x) => x.file === params.sources[s])!.share
    const copies = Math.max(1, Math.round((params.sizeBytes * share) / src.bytes))
    const first = src.tsUs.subarray(0, src.count).reduce((a, b) => Math.min(a, b))
    const span = src.tsUs.subarray(0, src.count).reduce((a, b) => Math.max(a, b)) - first
    for (let c = 0; c < copies; c++) {
      const startUs = DAY_START_US + Math.floor(prng.float() * Math.max(0, DAY_US - span))
      pending.push({src, next: 0, shiftUs: startUs - first, salt: prng.u32(), ts: src.tsUs[0] + startUs - first})
    }
  })
  pending.sort((a, b) => b.ts - a.ts) // latest first: activation pops from the end
  const snaplen = Math.max(...sources.map((s) => s.snaplen))
  const outputs = Array.from({length: params.workers}, (_, w) =>
    new WorkerOutput(join(out, `worker-${w}`), w, params, snaplen, prng))
  const heap = new CursorHeap()
  const packet: WritablePacket = {buf: Buffer.alloc(0), dataStart: 0, caplen: 0, origLen: 0, tsSec: 0, tsNsec: 0, linkType: LINKTYPE_ETHERNET}
  let packets = 0
  let firstUs = Infinity
  let lastUs = -Infinity
  for (;;) {
    // Copies join the merge only when the merge reaches their start, so few are open at once.
    while (pending.length > 0 && (heap.items.length === 0 || pending[pending.length - 1].ts <= heap.items[0].ts)) {
      heap.push(pending.pop()!)
    }
    if (heap.items.length === 0) break
    const c = heap.items[0]
    const i = c.next
    const src = c.src
    packet.buf = src.data
    packet.dataStart = src.start[i]
    packet.caplen = src.caplen[i]
    packet.origLen = src.origLen[i]
    packet.tsSec = Math.floor(c.ts / 1e6)
    packet.tsNsec = (c.ts % 1e6) * 1000
    if (c.ts < firstUs) firstUs = c.ts
    if (c.ts > lastUs) lastUs = c.ts
    await outputs[mix(src.flow[i] ^ c.salt) % params.workers].write(packet)
    packets++
    c.next = i + 1
    if (c.next < src.count) c.ts = src.tsUs[c.next] + c.shiftUs
    heap.fixTop(c.next >= src.count)
  }
  for (const o of outputs) await o.close()
  const files = outputs.flatMap((o) => o.files).map((f) => ({...f, path: relative(out, f.path)}))
  return {params, files, bytes: files.reduce((a, f) => a + f.bytes, 0), packets, firstUs, lastUs}
}

/** Returns the dataset in `out`, building it unless a complete one with the same parameters is there. */
export async function ensureDataset(params: DatasetParams, out = DATASET_DIR, force = false): Promise<{summary: DatasetSummary; reused: boolean}> {
  const marker = join(out, MARKER)
  if (!force && existsSync(marker)) {
    const summary = JSON.parse(readFileSync(marker, 'utf8')) as DatasetSummary
    if (JSON.stringify(summary.params) === JSON.stringify(params)) return {summary, reused: true}
  }
  // A partial or differently built dataset would skew every figure measured on it.
  rmSync(out, {recursive: true, force: true})
  mkdirSync(out, {recursive: true})
  const summary = await build(params, out)
  writeFileSync(marker, JSON.stringify(summary, null, 1))
  return {summary, reused: false}
}

function isoUs(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString().replace(/\.(\d{3})Z$/, (_, ms) => `.${ms}${String(us % 1000).padStart(3, '0')}Z`)
}

export function describeDataset(s: DatasetSummary, out = DATASET_DIR): string {
  const perWorker = Array.from({length: s.params.workers}, (_, w) => {
    const mine = s.files.filter((f) => f.path.startsWith(`worker-${w}/`))
    return `  worker-${w}: ${mine.length} files, ${(mine.reduce((a, f) => a + f.bytes, 0) / 1e6).toFixed(0)} MB, ` +
      `${mine.reduce((a, f) => a + f.packets, 0)} packets`
  })
  return [
    `dataset:  ${out}`,
    `files:    ${s.files.length} (${s.params.workers} worker sequences, rotation ~${(s.params.rotateBytes / 1e6).toFixed(0)} MB ±25%)`,
    `bytes:    ${s.bytes} (${(s.bytes / 1e9).toFixed(2)} GB)`,
    `packets:  ${s.packets}`,
    `span:     ${isoUs(s.firstUs)} .. ${isoUs(s.lastUs)} (${((s.lastUs - s.firstUs) / 3600e6).toFixed(2)} h)`,
    `sources:  ${s.params.sources.join(', ')}`,
    ...perWorker,
  ].join('\n')
}

async function main(): Promise<void> {
  const {values} = parseArgs({
    options: {
      'size-gb': {type: 'string', default: '2.2'},
      workers: {type: 'string', default: '4'},
      'rotate-mb': {type: 'string', default: '150'},
      seed: {type: 'string', default: '1'},
      out: {type: 'string', default: DATASET_DIR},
      force: {type: 'boolean', default: false},
    },
  })
  const params: DatasetParams = {
    sizeBytes: Math.round(Number(values['size-gb']) * 1e9),
    workers: Number(values.workers),
    rotateBytes: Math.round(Number(values['rotate-mb']) * 1e6),
    seed: Number(values.seed),
    sources: SOURCES.map((s) => s.file),
  }
  if (!(params.sizeBytes > 0) || !(params.workers >= 1) || !(params.rotateBytes > 0) || !Number.isInteger(params.seed)) {
    throw new Error('--size-gb, --workers, --rotate-mb must be positive numbers and --seed an integer')
  }
  const started = Date.now()
  const {summary, reused} = await ensureDataset(params, resolve(values.out!), values.force)
  console.log(describeDataset(summary, resolve(values.out!)))
  console.log(reused ? 'reused:   complete dataset with these parameters was already there' : `built in ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main()
