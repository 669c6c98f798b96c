import {stat} from 'node:fs/promises'
import type {Ast} from '../filter/ast.js'
import {Fields} from '../decode/fields.js'
import {parseEpoch} from '../dataset/metadata.js'
import {discoverCaptures} from '../dataset/discover.js'
import {mapDataset} from '../dataset/mapper.js'
import {IndexStore, type IndexedFile} from '../index/store.js'
import type {FlowInfo} from '../index/flow-key.js'
import {CaptureReader, type ReaderState} from '../pcap/reader.js'
import {describeError} from '../pcap/errors.js'
import {ALL, candidates, planFor} from './plan.js'
import {MatchStream, type PacketPredicate, type StreamSource} from './match-stream.js'
import {TimeWindow, windowOf} from './time-window.js'
import {unionSorted} from './sorted-ids.js'
import {TimeOrderHeap} from '../pcap/time-order-heap.js'
import {GroupOffsets} from './group-offsets.js'

export interface QuerySource extends StreamSource {
  /** Earliest timestamp among the records to visit: files are opened when the merge reaches it. */
  startSec: number
  startNsec: number
  /** Link types the file holds (to choose pcap or pcapng before writing). */
  linkTypes: number[]
  nanosecond: boolean
  snaplen: number
}

export interface QueryPlanResult {
  sources: QuerySource[]
}

function interfacesOf(state: ReaderState): number[] {
  return [...new Set(state.interfaces.map((i) => i.linkType))]
}

function isNanosecond(state: ReaderState): boolean {
  return state.format === 'pcapng' ? state.interfaces.some((i) => i.unitsPerSec > 1e6) : state.nanosecond
}

/** Indexed files that changed or vanished since they were mapped, each with a message naming it. */
async function staleFiles(files: IndexedFile[]): Promise<{path: string; message: string; exists: boolean}[]> {
  // All at once: one stat at a time left a query waiting on the thread pool once per file.
  const checks = await Promise.all(files.map(async (f) => {
    try {
      const st = await stat(f.path)
      if (st.size === f.file_size && Math.floor(st.mtimeMs) === Date.parse(f.mtime)) return null
      return {path: f.path, message: `${f.path}: changed since it was mapped`, exists: true}
    } catch {
      return {path: f.path, message: `${f.path}: no longer exists`, exists: false}
    }
  }))
  return checks.filter((c) => c !== null)
}

/** Finds the records a query visits; one planner serves many queries (extract: one per event). */
export interface QueryPlanner {
  plan(ast: Ast, window: TimeWindow): Promise<QueryPlanResult>
  close(): Promise<void>
}

/** From the index (candidate flows → record groups), or every record of every file (scan). */
export async function openPlanner(opts: {db?: string; scanInputs?: string[]; remap?: boolean}): Promise<QueryPlanner> {
  if (opts.scanInputs) {
    const scan = await planScan(opts.scanInputs)
    return {plan: async () => scan, close: async () => {}}
  }
  return IndexPlanner.open(opts.db!, opts.remap ?? false)
}

/** Plans one query. */
export async function planQuery(ast: Ast, window: TimeWindow, opts: {db?: string; scanInputs?: string[]; remap?: boolean}): Promise<QueryPlanResult> {
  const planner = await openPlanner(opts)
  try {
    return await planner.plan(ast, window)
  } finally {
    await planner.close()
  }
}

/** Group offsets of this many files are kept between queries of one planner (at most ~1.5 MB per GB of capture). */
const FILES_KEPT = 64

/**
 * Answers queries from an open index. Its files are listed and checked against the disk once; the decoded blocks of
 * group offsets of recently used files are kept (extract plans one query per event, mostly over the same files).
 */
class IndexPlanner implements QueryPlanner {
  /** Per file id, in the order of use. */
  private readonly offsets = new Map<string, GroupOffsets>()

  private constructor(private readonly store: IndexStore, private readonly files: IndexedFile[]) {}

  static async open(db: string, remap: boolean): Promise<IndexPlanner> {
    let store = await IndexStore.open(db, false)
    try {
      let files = [...(await store.files()).values()]
      const stale = await staleFiles(files)
      if (stale.length > 0) {
        // Never answer from a changed file's old index: its offsets would hand out wrong packets.
        if (!remap) throw new Error(`${stale.map((s) => s.message).join('\n')}\nrun \`pcapkit map\` again, or query with --remap`)
        await store.close()
        await mapDataset({inputs: stale.filter((s) => s.exists).map((s) => s.path), indexDir: db})
        store = await IndexStore.open(db, false)
        files = [...(await store.files()).values()]
      }
      return new IndexPlanner(store, files)
    } catch (e) {
      await store.close().catch(() => {})
      throw e
    }
  }

  async plan(ast: Ast, window: TimeWindow): Promise<QueryPlanResult> {
    const store = this.store
    const all = windowOf(ast).and(window)
    const live = this.files.filter((f) => all.overlaps(f.first ? parseEpoch(f.first) : null, f.last ? parseEpoch(f.last) : null) || f.first === null)
    const found = await candidates(planFor(ast), store, new Set(live.map((f) => f.id)))
    // The files' lookups run together: LevelDB answers on its thread pool, and one file at a time kept the query
    // waiting on each round trip in turn.
    const planned = await Promise.all(live.map(async (f): Promise<QuerySource | null> => {
      let flows: FlowInfo[]
      if (found === ALL) flows = await store.allFlows(f.id)
      else {
        const ids = found.get(f.id)
        if (!ids) return null
        flows = await store.flows(f.id, ids)
      }
      flows = flows.filter((fl) => fl.firstSec < 0 || all.overlaps([fl.firstSec, fl.firstNsec], [fl.lastSec, fl.lastNsec]))
      if (flows.length === 0) return null
      const groups = unionSorted(flows.map((fl) => fl.groups))
      const timed = flows.filter((fl) => fl.firstSec >= 0)
      const start = timed.reduce<[number, number]>((m, fl) => (fl.firstSec < m[0] || (fl.firstSec === m[0] && fl.firstNsec < m[1]) ? [fl.firstSec, fl.firstNsec] : m), [Infinity, 0])
      return {
        path: f.path, state: f.gzip ? null : f.state, groups, indexedEnd: f.indexed_end,
        groupOffsets: f.gzip ? null : await this.groupOffsets(f.id, groups),
        startSec: timed.length === flows.length ? start[0] : -Infinity, startNsec: start[1],
        linkTypes: interfacesOf(f.state), nanosecond: isNanosecond(f.state), snaplen: f.state.snaplen,
      }
    }))
    return {sources: planned.filter((p) => p !== null)}
  }

  close(): Promise<void> {
    return this.store.close()
  }

  /** A file's group offsets with every block `groups` needs decoded; recently used files keep theirs. */
  private async groupOffsets(fileId: string, groups: ArrayLike<number>): Promise<GroupOffsets> {
    let offsets = this.offsets.get(fileId)
    if (offsets) this.offsets.delete(fileId)
    else offsets = new GroupOffsets()
    this.offsets.set(fileId, offsets)
    if (this.offsets.size > FILES_KEPT) this.offsets.delete(this.offsets.keys().next().value!)
    const missing = offsets.missing(groups)
    if (missing.length > 0) {
      const blocks = await this.store.groupBlocks(fileId, missing)
      missing.forEach((b, i) => offsets.blocks.set(b, blocks[i]))
    }
    return offsets
  }
}

async function planScan(inputs: string[]): Promise<QueryPlanResult> {
  const {files, problems} = await discoverCaptures(inputs)
  if (problems.length > 0) throw new Error(problems.join('\n'))
  const sources: QuerySource[] = []
  for (const f of files) {
    if (f.tarball) {
      throw new Error(`${f.path} is a tarball: query reads records by offset, so extract its captures first ` +
        `(pcapkit tarExtract --in-tarball ${f.path} --out-dir DIR), then map or scan DIR`)
    }
    // Link types and precision are learned from the header now (pcapng: unknown until read); records in the merge.
    try {
      const r = await CaptureReader.open(f.path)
      const state = r.state()
      await r.close()
      sources.push({
        path: f.path, state: null, groups: null, groupOffsets: null, indexedEnd: Infinity, startSec: -Infinity, startNsec: 0,
        linkTypes: r.format === 'pcap' ? interfacesOf(state) : [], nanosecond: isNanosecond(state), snaplen: state.snaplen,
      })
    } catch (e) {
      throw new Error(describeError(e, f.path))
    }
  }
  return {sources}
}

/**
 * Streams the matching records of all sources in global time order (k-way merge; files opened lazily in order of
 * their first candidate). `onRecord` may return a promise (output backpressure); return false to stop early.
 */
export async function runQuery(
  sources: QuerySource[], matches: PacketPredicate, window: TimeWindow,
  onRecord: (stream: MatchStream) => boolean | Promise<boolean>,
): Promise<void> {
  const order = sources.map((s, i) => ({s, i})).sort((a, b) => a.s.startSec - b.s.startSec || a.s.startNsec - b.s.startNsec || a.i - b.i)
  // Streams by their source number (its place in `sources`: the tie-break), keyed by their current record's time.
  const streams: (MatchStream | null)[] = sources.map(() => null)
  const heap = new TimeOrderHeap(sources.length)
  const fields = new Fields()
  const push = (m: MatchStream): void => heap.push(m.order, m.rec.tsSec, m.rec.tsNsec)
  let opened = 0
  const open = async (): Promise<void> => {
    const {s, i} = order[opened++]
    const stream = await MatchStream.open(i, s, matches, window, fields)
    streams[i] = stream
    if (await stream.next()) push(stream)
    else {
      streams[i] = null
      await stream.close()
    }
  }
  try {
    for (;;) {
      // Open every file whose first candidate is not later than the earliest pending record.
      while (opened < order.length && heap.isBeforeTop(order[opened].s.startSec, order[opened].s.startNsec)) await open()
      if (heap.length === 0) return
      const top = streams[heap.pop()]!
      const go = onRecord(top)
      if ((typeof go === 'boolean' ? go : await go) === false) return
      if (await top.next()) push(top)
      else {
        streams[top.order] = null
        await top.close()
      }
    }
  } finally {
    await Promise.all(streams.map((m) => m?.close()))
  }
}
