/*
 * Seeded mutation fuzzer for CaptureReader. Each case takes a real capture (shared captures, the tcpdump corpus,
 * testdata/), applies 1-3 mutations that aim at the parser's decisions (bit flips, cuts, length fields patched to
 * edge values, blocks duplicated, dropped, swapped or spliced in from another file, gzip wrappers that are cut) and
 * reads the result, record by record and again through map's statistics scan (the two must agree). Reading may
 * fail only with a CaptureError or a zlib error that describeError names; anything else (TypeError, RangeError, a
 * record view outside its buffer, a worker that dies) is a crash, and a case that runs past the timeout is a hang.
 * Cases run on worker threads so that even a synchronous endless loop is caught.
 *
 * Case i of seed s is a pure function of (s, i, the seed files), so any failure replays alone:
 *   node --import tsx bench/fuzz-reader.ts [--cases 10000] [--seed 1] [--timeout-ms 5000] [--workers 2]
 *   node --import tsx bench/fuzz-reader.ts --seed S --case I [--save FILE]   (one case, in this thread, with stack)
 */
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {availableParallelism, tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {parseArgs} from 'node:util'
import {Worker, isMainThread, parentPort, workerData} from 'node:worker_threads'
import {gunzipSync, gzipSync} from 'node:zlib'
import {CaptureReader, MAX_RECORD, type PacketRecord} from '../src/pcap/reader.js'
import {bufferSource} from '../src/pcap/source.js'
import {CaptureError} from '../src/pcap/errors.js'
import {StatsAccumulator} from '../src/dataset/file-stats.js'
import {Prng} from './prng.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const SHARED = resolve(HERE, '../../shared/pcaps')
const CAPTURE = /\.(pcap|pcapng|cap)(\.gz)?$/
/** Seeds are cut to this many bytes: mutations act near structure, and small inputs keep a case in milliseconds. */
const SEED_BYTES = 128 << 10
/** Every this many cases goes through a temp file and CaptureReader.open (the file and gunzip-stream paths). */
const VIA_FILE_EVERY = 25
/** Error codes describeError turns into a proper message; any other error is a crash. */
const NAMED_CODES = new Set(['Z_DATA_ERROR', 'Z_BUF_ERROR', 'ENOENT', 'EACCES', 'EISDIR'])

export interface SeedFile {
  name: string
  data: Buffer
}

export interface FuzzOptions {
  cases: number
  seed: number
  /** Seed captures; default: the shared captures, the tcpdump corpus and testdata/. */
  files?: string[]
  timeoutMs?: number
  workers?: number
}

export interface FuzzFailure {
  seed: number
  case: number
  file: string
  mutations: string[]
  error: string
  stack?: string
}

export interface FuzzReport {
  cases: number
  crashes: FuzzFailure[]
  hangs: FuzzFailure[]
  /** Expected read errors by kind ("CaptureError DAMAGED", "zlib Z_BUF_ERROR"…). */
  errorsByKind: Record<string, number>
  /** Cases read to the end without an error. */
  clean: number
  /** Expected errors by message with numbers blanked: which checks the cases reached. */
  byMessage: Record<string, number>
  /** Records handed out over all cases: shows the cases get past the headers. */
  records: number
  seconds: number
}

export function defaultSeedFiles(): string[] {
  const dirs = [SHARED, join(SHARED, 'corpus/tcpdump'), resolve(HERE, '../testdata')]
  return dirs.filter(existsSync).flatMap((d) => readdirSync(d).filter((f) => CAPTURE.test(f)).sort().map((f) => join(d, f)))
}

/** Loads seed captures, gunzipped (gzip is a mutation of its own) and cut to SEED_BYTES. */
export function loadSeeds(paths: string[]): SeedFile[] {
  const seeds: SeedFile[] = []
  for (const path of paths) {
    let data = readFileSync(path)
    if (data[0] === 0x1f && data[1] === 0x8b) {
      try {
        data = gunzipSync(data)
      } catch {
        continue // a broken .gz among the seeds teaches nothing the gzip mutations don't
      }
    }
    // A copy, so that the whole file is not kept alive by the slice.
    if (data.length >= 4) seeds.push({name: path, data: Buffer.from(data.subarray(0, SEED_BYTES))})
  }
  return seeds
}

// ---- where the structure is: fields and units (records, blocks) of a capture, found without our reader ----

interface Field {
  at: number
  size: 1 | 2 | 4
  le: boolean
  name: string
}

/** A record or block: what duplicate, remove, swap and splice move around (the pcap file header is not one). */
interface Unit {
  at: number
  len: number
  name: string
  le: boolean
}

interface Layout {
  fields: Field[]
  units: Unit[]
}

const PCAP_MAGICS = [0xa1b2c3d4, 0xa1b23c4d, 0xa1b2cd34]
const SHB = 0x0a0d0d0a
const BOM = 0x1a2b3c4d
/** Every magic the reader knows, in both byte orders: a swapped magic re-reads the rest with other rules. */
const MAGICS = [...PCAP_MAGICS, SHB, BOM, 0xd4c3b2a1, 0x4d3cb2a1, 0x34cdb2a1, 0x4d3c2b1a]
/** Block types the reader handles, one it skips, and a custom block. */
const BLOCK_TYPES = [1, 2, 3, 4, 5, 6, SHB, 0xbad, 0x40000bad]
const BLOCK_NAMES: Record<number, string> = {1: 'IDB', 2: 'PB', 3: 'SPB', 4: 'NRB', 5: 'ISB', 6: 'EPB', [SHB]: 'SHB'}

function u32(b: Buffer, at: number, le: boolean): number {
  return le ? b.readUInt32LE(at) : b.readUInt32BE(at)
}

function u16(b: Buffer, at: number, le: boolean): number {
  return le ? b.readUInt16LE(at) : b.readUInt16BE(at)
}

/** Maps the structure of an (already mutated) capture as far as it is sound; stops at the first damage. */
function layoutOf(b: Buffer): Layout {
  const out: Layout = {fields: [], units: []}
  if (b.length >= 12 && b.readUInt32LE(0) === SHB) walkPcapng(b, out)
  else if (b.length >= 24) walkPcap(b, out)
  return out
}

function walkPcap(b: Buffer, out: Layout): void {
  const le = PCAP_MAGICS.includes(b.readUInt32LE(0))
  if (!le && !PCAP_MAGICS.includes(b.readUInt32BE(0))) return
  const hl = u32(b, 0, le) === 0xa1b2cd34 ? 24 : 16
  const f = (at: number, size: 1 | 2 | 4, name: string): void => void out.fields.push({at, size, le, name})
  f(0, 4, 'magic')
  f(4, 2, 'version major')
  f(16, 4, 'snaplen')
  f(20, 4, 'link type')
  for (let p = 24; p + hl <= b.length;) {
    const cap = u32(b, p + 8, le)
    if (p + hl + cap > b.length) break
    f(p + 4, 4, 'ts fraction')
    f(p + 8, 4, 'caplen')
    f(p + 12, 4, 'origlen')
    out.units.push({at: p, len: hl + cap, name: 'record', le})
    p += hl + cap
  }
}

function walkPcapng(b: Buffer, out: Layout): void {
  let le = true
  for (let p = 0; p + 12 <= b.length;) {
    if (b.readUInt32LE(p) === SHB) {
      if (b.readUInt32LE(p + 8) === BOM) le = true
      else if (b.readUInt32BE(p + 8) === BOM) le = false
      else return
    }
    const type = u32(b, p, le)
    const len = u32(b, p + 4, le)
    if (len < 12 || len % 4 !== 0 || p + len > b.length) return
    const name = BLOCK_NAMES[type] ?? `block ${type}`
    const f = (at: number, size: 1 | 2 | 4, field: string): void => {
      if (at + size <= p + len) out.fields.push({at, size, le, name: `${name} ${field}`})
    }
    f(p, 4, 'block type')
    f(p + 4, 4, 'total length')
    f(p + len - 4, 4, 'trailing length')
    out.units.push({at: p, len, name, le})
    let options = -1
    if (type === SHB) {
      f(p + 8, 4, 'byte-order magic')
      f(p + 12, 2, 'version major')
      options = p + 24
    } else if (type === 1) {
      f(p + 8, 2, 'link type')
      f(p + 12, 4, 'snaplen')
      options = p + 16
    } else if (type === 6 || type === 2) {
      f(p + 8, type === 6 ? 4 : 2, 'interface id')
      f(p + 12, 4, 'timestamp high')
      f(p + 20, 4, 'caplen')
      f(p + 24, 4, 'origlen')
      if (p + 24 <= p + len) options = p + 28 + ((u32(b, p + 20, le) + 3) & ~3)
    } else if (type === 3) {
      f(p + 8, 4, 'origlen')
    } else if (type === 5) {
      f(p + 8, 4, 'interface id')
      options = p + 20
    }
    for (let o = options; o >= 0 && o + 4 <= p + len - 4;) {
      const code = u16(b, o, le)
      const olen = u16(b, o + 2, le)
      f(o, 2, `option ${code} code`)
      f(o + 2, 2, `option ${code} length`)
      if (type === 1 && code === 9) f(o + 4, 1, 'if_tsresol')
      if (type === 1 && code === 14) f(o + 4, 4, 'if_tsoffset')
      if (code === 0) break
      o += 4 + ((olen + 3) & ~3)
    }
    p += len
  }
}

// ---- mutations ----

const U32_EDGES = [0, 1, 2, 3, 4, 7, 8, 11, 12, 13, 15, 16, 20, 24, 28, 31, 32, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000,
  0x3ffff, 0x40000, 0x40001, 0x7fffffff, 0x80000000, 0xfffffff0, 0xfffffffc, 0xffffffff, MAX_RECORD - 4, MAX_RECORD,
  MAX_RECORD + 4]
const U16_EDGES = [0, 1, 2, 3, 4, 5, 8, 9, 14, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffc, 0xffff]
/** if_tsresol: 10^0..10^19 and beyond, 2^-n, and the values whose powers overflow. */
const U8_EDGES = [0, 1, 3, 6, 9, 10, 12, 15, 19, 20, 63, 64, 0x7f, 0x80, 0x81, 0x89, 0x9e, 0xa0, 0xbf, 0xc0, 0xff]

function edgeValue(prng: Prng, field: Field, old: number): number {
  const max = field.size === 4 ? 0xffffffff : field.size === 2 ? 0xffff : 0xff
  const r = prng.int(10)
  if (r < 4) {
    const edges = field.name.endsWith('magic') ? MAGICS : field.name.endsWith('block type') ? BLOCK_TYPES
      : field.size === 4 ? U32_EDGES : field.size === 2 ? U16_EDGES : U8_EDGES
    return prng.pick(edges)
  }
  if (r < 8) return Math.max(0, Math.min(max, old + prng.pick([-8, -4, -3, -2, -1, 1, 2, 3, 4, 8, old, -(old >>> 1)])))
  return prng.u32() % (max + 1)
}

function writeField(b: Buffer, f: Field, v: number): void {
  if (f.size === 1) b[f.at] = v
  else if (f.size === 2) f.le ? b.writeUInt16LE(v, f.at) : b.writeUInt16BE(v, f.at)
  else f.le ? b.writeUInt32LE(v >>> 0, f.at) : b.writeUInt32BE(v >>> 0, f.at)
}

function readField(b: Buffer, f: Field): number {
  return f.size === 1 ? b[f.at] : f.size === 2 ? u16(b, f.at, f.le) : u32(b, f.at, f.le)
}

type Mutation = (prng: Prng, b: Buffer, seeds: SeedFile[]) => {out: Buffer; what: string}

/** Each mutation returns a new buffer (seeds stay intact) and a description for the report. */
const MUTATIONS: Record<string, Mutation> = {
  flipBits(prng, b) {
    const out = Buffer.from(b)
    const n = 1 + prng.int(8)
    const at: number[] = []
    for (let i = 0; i < n; i++) {
      const o = prng.int(out.length)
      out[o] ^= 1 << prng.int(8)
      at.push(o)
    }
    return {out, what: `flip bits at ${at.join(',')}`}
  },
  setBytes(prng, b) {
    const out = Buffer.from(b)
    const o = prng.int(out.length)
    const n = Math.min(1 + prng.int(8), out.length - o)
    for (let i = 0; i < n; i++) out[o + i] = prng.pick([0, 0xff, 0x7f, 0x80, prng.int(256)])
    return {out, what: `set ${n} bytes at ${o}`}
  },
  cut(prng, b) {
    const {units} = layoutOf(b)
    // Half the cuts land near a record boundary, where "cut between records" and "cut in a header" differ.
    const at = units.length > 0 && prng.int(2) === 0
      ? Math.max(0, Math.min(b.length, prng.pick(units).at + prng.int(33) - 8))
      : prng.int(b.length + 1)
    return {out: Buffer.from(b.subarray(0, at)), what: `cut at ${at}`}
  },
  patchField(prng, b) {
    const {fields} = layoutOf(b)
    if (fields.length === 0) return MUTATIONS.setBytes(prng, b, [])
    const f = prng.pick(fields)
    const out = Buffer.from(b)
    const old = readField(out, f)
    const v = edgeValue(prng, f, old)
    writeField(out, f, v)
    return {out, what: `${f.name} at ${f.at}: ${old} -> ${v}`}
  },
  /** Gives a pcapng block a new length in both its header and trailer, so the trailer check passes. */
  relength(prng, b) {
    const blocks = layoutOf(b).units.filter((u) => u.name !== 'record')
    if (blocks.length === 0) return MUTATIONS.patchField(prng, b, [])
    const u = prng.pick(blocks)
    const len = prng.int(2) === 0 ? prng.pick([12, 16, 20, 24, 28, 32, u.len - 4, u.len + 4, u.len + 8]) : (prng.int(u.len * 2) + 12) & ~3
    const out = Buffer.from(b)
    const w = (at: number): void => void (u.le ? out.writeUInt32LE(len >>> 0, at) : out.writeUInt32BE(len >>> 0, at))
    w(u.at + 4)
    if (len >= 12 && u.at + len <= out.length) w(u.at + len - 4)
    return {out, what: `${u.name} at ${u.at}: length ${u.len} -> ${len} (header and trailer)`}
  },
  duplicate(prng, b) {
    const {units} = layoutOf(b)
    if (units.length === 0) return MUTATIONS.flipBits(prng, b, [])
    const u = prng.pick(units)
    const to = prng.pick(units).at
    return {out: Buffer.concat([b.subarray(0, to), b.subarray(u.at, u.at + u.len), b.subarray(to)]), what: `copy ${u.name} at ${u.at} to ${to}`}
  },
  remove(prng, b) {
    const {units} = layoutOf(b)
    if (units.length === 0) return MUTATIONS.cut(prng, b, [])
    const u = prng.pick(units)
    return {out: Buffer.concat([b.subarray(0, u.at), b.subarray(u.at + u.len)]), what: `remove ${u.name} at ${u.at}`}
  },
  swap(prng, b) {
    const {units} = layoutOf(b)
    if (units.length < 2) return MUTATIONS.duplicate(prng, b, [])
    let x = prng.pick(units)
    let y = prng.pick(units)
    if (x.at > y.at) [x, y] = [y, x]
    if (x.at + x.len > y.at) return {out: Buffer.from(b), what: 'swap (same unit: none)'}
    const out = Buffer.concat([b.subarray(0, x.at), b.subarray(y.at, y.at + y.len), b.subarray(x.at + x.len, y.at),
      b.subarray(x.at, x.at + x.len), b.subarray(y.at + y.len)])
    return {out, what: `swap ${x.name} at ${x.at} with ${y.name} at ${y.at}`}
  },
  /** A record or block from another capture: another byte order, link type, section or interface numbering. */
  splice(prng, b, seeds) {
    const donor = prng.pick(seeds)
    const units = layoutOf(donor.data).units
    if (units.length === 0) return MUTATIONS.insertBytes(prng, b, seeds)
    const u = prng.pick(units)
    const mine = layoutOf(b).units
    const to = mine.length > 0 ? prng.pick(mine).at : prng.int(b.length + 1)
    const out = Buffer.concat([b.subarray(0, to), donor.data.subarray(u.at, u.at + u.len), b.subarray(to)])
    return {out, what: `splice ${u.name} from ${donor.name.split('/').pop()} at ${to}`}
  },
  insertBytes(prng, b) {
    const at = prng.int(b.length + 1)
    const junk = Buffer.alloc(1 + prng.int(64))
    for (let i = 0; i < junk.length; i++) junk[i] = prng.int(256)
    return {out: Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]), what: `insert ${junk.length} bytes at ${at}`}
  },
}

const MUTATION_NAMES = Object.keys(MUTATIONS)

/** Gzip-wraps a mutated capture, then maybe cuts or damages the compressed stream. */
function gzipWrap(prng: Prng, b: Buffer): {out: Buffer; what: string} {
  const gz = gzipSync(b, {level: 1})
  const r = prng.int(10)
  if (r < 5) {
    const at = prng.int(gz.length)
    return {out: gz.subarray(0, at), what: `gzip (${gz.length} bytes), cut at ${at}`}
  }
  if (r < 7) {
    const at = 10 + prng.int(Math.max(1, gz.length - 10))
    gz[Math.min(at, gz.length - 1)] ^= 1 << prng.int(8)
    return {out: gz, what: `gzip, bit flipped at ${at}`}
  }
  return {out: gz, what: 'gzip'}
}

function isPcapng(s: SeedFile): boolean {
  return s.data.readUInt32LE(0) === SHB
}

export interface FuzzCase {
  index: number
  file: string
  mutations: string[]
  bytes: Buffer
  viaFile: boolean
}

export function makeCase(seed: number, index: number, seeds: SeedFile[]): FuzzCase {
  const prng = new Prng(seed, index)
  // Half the cases start from pcapng, which has far more structure than its share of the seed files (1 in 20).
  const pcapng = seeds.filter(isPcapng)
  const source = prng.int(2) === 0 && pcapng.length > 0 ? prng.pick(pcapng) : prng.pick(seeds)
  let bytes = source.data
  const mutations: string[] = []
  const steps = 1 + prng.int(3)
  for (let i = 0; i < steps && bytes.length > 0; i++) {
    const name = prng.pick(MUTATION_NAMES)
    const {out, what} = MUTATIONS[name](prng, bytes, seeds)
    bytes = out
    mutations.push(`${name}: ${what}`)
  }
  if (prng.int(8) === 0) {
    const {out, what} = gzipWrap(prng, bytes)
    bytes = out
    mutations.push(what)
  }
  return {index, file: source.name, mutations, bytes, viaFile: index % VIA_FILE_EVERY === 0}
}

// ---- running one case ----

export interface CaseOutcome {
  /** 'clean', an expected error kind, or 'crash'. */
  kind: string
  records: number
  message?: string
  stack?: string
}

/** A record the reader handed out that points outside its buffer or has an impossible timestamp. */
class InvariantError extends Error {}

function checkRecord(rec: PacketRecord): void {
  const ok = Number.isInteger(rec.dataStart) && Number.isInteger(rec.caplen) && rec.dataStart >= 0 && rec.caplen >= 0 &&
    rec.dataStart + rec.caplen <= rec.buf.length &&
    (!rec.hasTs || (Number.isFinite(rec.tsSec) && rec.tsNsec >= 0 && rec.tsNsec < 1e9 && Number.isInteger(rec.tsNsec)))
  if (!ok) {
    throw new InvariantError(`bad record view: dataStart ${rec.dataStart}, caplen ${rec.caplen}, buffer ${rec.buf.length}, ` +
      `ts ${rec.tsSec}.${rec.tsNsec}, offset ${rec.offset}`)
  }
}

export function classify(e: unknown): {kind: string; expected: boolean} {
  if (e instanceof CaptureError) return {kind: `CaptureError ${e.code}`, expected: true}
  const code = (e as NodeJS.ErrnoException)?.code
  if (code !== undefined && NAMED_CODES.has(code)) return {kind: code.startsWith('Z_') ? `zlib ${code}` : code, expected: true}
  return {kind: (e as Error)?.name ?? typeof e, expected: false}
}

/**
 * Reads the case record by record (checking every record view), then again through the statistics scan map uses
 * (CaptureReader.summarize): both must end the same way after the same number of records.
 */
export async function runCase(c: FuzzCase, tmp: string): Promise<CaseOutcome> {
  const each = await readCase(c, tmp, false)
  if (each.kind === 'crash') return each
  const bulk = await readCase(c, tmp, true)
  if (bulk.kind === 'crash') return bulk
  if (bulk.kind !== each.kind || bulk.records !== each.records) {
    return {kind: 'crash', records: each.records, message: `summarize disagrees with forEach: ${bulk.kind} after ${bulk.records} records, ` +
      `forEach ${each.kind} after ${each.records}`}
  }
  return each
}

async function readCase(c: FuzzCase, tmp: string, bulk: boolean): Promise<CaseOutcome> {
  const acc = new StatsAccumulator()
  let records = 0
  let reader: CaptureReader | null = null
  let path: string | null = null
  try {
    if (c.viaFile) {
      path = join(tmp, `case-${c.index}.pcap`)
      writeFileSync(path, c.bytes)
      reader = await CaptureReader.open(path, `case-${c.index}`)
    } else {
      const {source, gzip} = await bufferSource(c.bytes)
      reader = await CaptureReader.fromSource(source, `case-${c.index}`, gzip)
    }
    if (bulk) {
      await reader.summarize(acc)
    } else {
      await reader.forEach((rec) => {
        checkRecord(rec)
        records++
      })
    }
    return {kind: 'clean', records: bulk ? acc.packets : records}
  } catch (e) {
    const {kind, expected} = classify(e)
    const err = e as Error
    const read = bulk ? acc.packets : records
    return expected
      ? {kind, records: read, message: err.message}
      : {kind: 'crash', records: read, message: `${kind}: ${err?.message ?? String(e)}`, stack: err?.stack}
  } finally {
    await reader?.close().catch(() => {})
    if (path) rmSync(path, {force: true})
  }
}

// ---- worker threads: cases run there so that the main thread can stop one that never returns ----

interface WorkerInit {
  fuzzReader: true
  seed: number
  seeds: SeedFile[]
  /** Where file-path cases are written; the main thread removes it, so that a worker stopped mid-case leaves nothing. */
  tmp: string
}

interface CaseReply {
  index: number
  outcome: CaseOutcome
}

function workerMain(init: WorkerInit): void {
  // Structured cloning turned the Buffers into Uint8Arrays.
  const seeds = init.seeds.map((s) => ({name: s.name, data: Buffer.from(s.data.buffer, s.data.byteOffset, s.data.byteLength)}))
  const port = parentPort!
  port.on('message', async (index: number | null) => {
    if (index === null) {
      port.close()
      return
    }
    const outcome = await runCase(makeCase(init.seed, index, seeds), init.tmp)
    port.postMessage({index, outcome} satisfies CaseReply)
  })
  port.postMessage('ready')
}

/**
 * A worker running this module. Node 20 does not carry --import hooks (tsx) into worker threads, so the worker
 * registers tsx itself before importing this .ts file.
 */
function startWorker(init: WorkerInit): Worker {
  const tsx = import.meta.resolve('tsx/esm/api')
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}) })`
  return new Worker(boot, {eval: true, workerData: init})
}

/** Stops a worker that hung or died; it may still emit 'error' on its way out, which must not throw here. */
function retire(worker: Worker): void {
  worker.removeAllListeners()
  worker.on('error', () => {})
  void worker.terminate()
}

/** One worker thread working through the shared queue of case numbers; replaced when a case crashes it or hangs. */
async function lane(next: () => number | null, init: WorkerInit, timeoutMs: number,
  onResult: (index: number, outcome: CaseOutcome | 'hang') => void): Promise<void> {
  let index = next()
  while (index !== null) {
    const worker = startWorker(init)
    await new Promise<void>((ready, fail) => {
      worker.once('message', () => ready())
      worker.once('error', fail)
    })
    // Runs cases on this worker until the queue is empty or the worker has to be replaced.
    index = await new Promise<number | null>((done) => {
      let timer: NodeJS.Timeout
      let current = index!
      const send = (i: number | null): void => {
        if (i === null) {
          worker.postMessage(null)
          done(null)
          return
        }
        current = i
        timer = setTimeout(() => {
          retire(worker)
          onResult(current, 'hang')
          done(next())
        }, timeoutMs)
        worker.postMessage(i)
      }
      worker.on('message', (reply: CaseReply) => {
        clearTimeout(timer)
        onResult(reply.index, reply.outcome)
        send(next())
      })
      // An exception outside the case's promise chain (a stream emitting 'error' with nobody listening) kills the thread.
      worker.on('error', (e) => {
        clearTimeout(timer)
        retire(worker)
        onResult(current, {kind: 'crash', records: 0, message: `worker died: ${e.name}: ${e.message}`, stack: e.stack})
        done(next())
      })
      send(index)
    })
  }
}

function normalise(message: string): string {
  return message.replace(/^case-\d+: /, '').replace(/0x[0-9a-f]+/gi, 'N').replace(/\d+/g, 'N')
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const started = performance.now()
  const seeds = loadSeeds(opts.files ?? defaultSeedFiles())
  if (seeds.length === 0) throw new Error('no seed captures found')
  const init: WorkerInit = {fuzzReader: true, seed: opts.seed, seeds, tmp: mkdtempSync(join(tmpdir(), 'pcapkit-fuzz-'))}
  const report: FuzzReport = {cases: opts.cases, crashes: [], hangs: [], errorsByKind: {}, clean: 0, byMessage: {}, records: 0, seconds: 0}
  let next = 0
  const take = (): number | null => (next < opts.cases ? next++ : null)
  const failure = (index: number, error: string, stack?: string): FuzzFailure => {
    const c = makeCase(opts.seed, index, seeds)
    return {seed: opts.seed, case: index, file: c.file, mutations: c.mutations, error, stack}
  }
  const workers = Math.max(1, Math.min(opts.workers ?? availableParallelism(), opts.cases))
  const lanes = Array.from({length: workers}, () => lane(take, init, opts.timeoutMs ?? 5000, (index, outcome) => {
    if (outcome === 'hang') {
      report.hangs.push(failure(index, `no result after ${opts.timeoutMs ?? 5000} ms`))
      return
    }
    report.records += outcome.records
    if (outcome.kind === 'crash') report.crashes.push(failure(index, outcome.message!, outcome.stack))
    else if (outcome.kind === 'clean') report.clean++
    else {
      report.errorsByKind[outcome.kind] = (report.errorsByKind[outcome.kind] ?? 0) + 1
      const m = normalise(outcome.message ?? '')
      report.byMessage[m] = (report.byMessage[m] ?? 0) + 1
    }
  }))
  try {
    await Promise.all(lanes)
  } finally {
    rmSync(init.tmp, {recursive: true, force: true})
  }
  report.crashes.sort((a, b) => a.case - b.case)
  report.hangs.sort((a, b) => a.case - b.case)
  report.seconds = (performance.now() - started) / 1000
  return report
}

// ---- command line ----

function printFailure(kind: string, f: FuzzFailure): void {
  console.log(`\n${kind} case ${f.case} (seed ${f.seed}) on ${f.file}`)
  for (const m of f.mutations) console.log(`  - ${m}`)
  console.log(`  ${f.error}`)
  if (f.stack) console.log(f.stack.split('\n').slice(1, 8).join('\n'))
  console.log(`  replay: node --import tsx bench/fuzz-reader.ts --seed ${f.seed} --case ${f.case} --save /tmp/case-${f.case}.bin`)
}

async function main(): Promise<void> {
  const {values} = parseArgs({
    options: {
      cases: {type: 'string', default: '10000'},
      seed: {type: 'string', default: '1'},
      case: {type: 'string'},
      save: {type: 'string'},
      'timeout-ms': {type: 'string', default: '5000'},
      workers: {type: 'string'},
    },
  })
  const seed = Number(values.seed)
  if (values.case !== undefined) {
    const c = makeCase(seed, Number(values.case), loadSeeds(defaultSeedFiles()))
    console.log(`case ${c.index} (seed ${seed}) on ${c.file}${c.viaFile ? ', read from a temp file' : ''}:`)
    for (const m of c.mutations) console.log(`  - ${m}`)
    if (values.save) writeFileSync(values.save, c.bytes)
    const tmp = mkdtempSync(join(tmpdir(), 'pcapkit-fuzz-'))
    const outcome = await runCase(c, tmp)
    rmSync(tmp, {recursive: true, force: true})
    console.log(`${outcome.kind}: ${outcome.records} records${outcome.message ? `; ${outcome.message}` : ''}`)
    if (outcome.stack) console.log(outcome.stack)
    process.exitCode = outcome.kind === 'crash' ? 1 : 0
    return
  }
  const report = await runFuzz({
    cases: Number(values.cases), seed, timeoutMs: Number(values['timeout-ms']),
    workers: values.workers ? Number(values.workers) : undefined,
  })
  console.log(`${report.cases} cases (seed ${seed}) in ${report.seconds.toFixed(1)} s: ${report.clean} read cleanly, ` +
    `${report.records} records handed out; ${report.crashes.length} crashes, ${report.hangs.length} hangs`)
  console.log('\nexpected errors by kind:')
  for (const [k, n] of Object.entries(report.errorsByKind).sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(6)}  ${k}`)
  console.log('\nchecks reached (messages, numbers blanked):')
  for (const [k, n] of Object.entries(report.byMessage).sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(6)}  ${k}`)
  for (const f of report.crashes) printFailure('CRASH', f)
  for (const f of report.hangs) printFailure('HANG', f)
  process.exitCode = report.crashes.length + report.hangs.length > 0 ? 1 : 0
}

if (!isMainThread && (workerData as WorkerInit | undefined)?.fuzzReader) workerMain(workerData as WorkerInit)
else if (isMainThread && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main()
