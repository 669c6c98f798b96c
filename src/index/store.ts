/*
 * The field index in LevelDB (`level`). Each file's entries are written in ONE batch together with the pointer from
 * its path, and the entries of the version they replace are deleted in that same batch: a run killed at any point
 * leaves every file either fully old or fully new.
 */
import {Level} from 'level'
import type {ReaderState} from '../pcap/reader.js'
import type {FlowInfo} from './flow-key.js'
import {
  FLOWS_PER_CHUNK, LAYOUT, LAYOUT_VERSION, decodeAscending, decodeFlowChunk, decodePortBucket, fileIdText, fileKey, flowChunkKey, flowPrefix,
  groupBlockKey, groupsPrefix, metaKey, packedValue, pathKey, postingListKey, postingPrefix, type EncodedFileIndex,
} from './layout.js'

export interface IndexedFile {
  id: string
  path: string
  file_size: number
  mtime: string
  /** Exact "sec.nnnnnnnnn" of the earliest and latest timed record, null without any. */
  first: string | null
  last: string | null
  packets: number
  flows: number
  /** Where the last indexed record ends: a query never reads past it (into damage the map stopped at, say). */
  indexed_end: number
  gzip: boolean
  state: ReaderState
}

export type NewIndexedFile = Omit<IndexedFile, 'id' | 'flows' | 'indexed_end'>

/** Above this many blocks of group offsets, a file's are read as a key range rather than one by one. */
const MANY_BLOCKS = 64

/** Lowest and highest port of a port lookup. */
export type PortRange = [number, number]

type Batch = ({type: 'put'; key: string; value: Buffer} | {type: 'del'; key: string})[]

export class IndexStore {
  /** Whether this handle wrote entries (close then tidies the directory). */
  private wrote = false

  private constructor(private readonly db: Level<string, Buffer>, readonly dir: string) {}

  /** Opens (creating when asked) the index directory; a missing index is a clear error for readers. */
  static async open(dir: string, create: boolean): Promise<IndexStore> {
    const db = new Level<string, Buffer>(dir, {valueEncoding: 'buffer', createIfMissing: create})
    try {
      await db.open()
    } catch (e) {
      const cause = (e as {cause?: Error}).cause?.message ?? (e as Error).message
      if (!create && /does not exist/.test(cause)) throw new Error(`no index at ${dir}: run \`pcapkit map … --dump-json FILE\` first (or give --db)`)
      if (/lock/i.test(cause)) throw new Error(`index ${dir} is in use by another pcapkit process`)
      throw new Error(`cannot open index ${dir}: ${cause}`)
    }
    if (create) await dropOlderLayouts(db)
    else await refuseOlderLayout(db, dir)
    return new IndexStore(db, dir)
  }

  async close(): Promise<void> {
    await this.db.close()
    if (!this.wrote) return
    // LevelDB leaves its write log, and the tables of a background compaction the close cut short, to the next
    // open: opening once more folds the log into a table and deletes the leftovers (~0.1 s; 51 → 31 MB measured
    // after a first map of the bench dataset).
    const again = new Level<string, Buffer>(this.dir, {valueEncoding: 'buffer'})
    await again.open()
    await again.close()
  }

  /**
   * Rewrites the key space without the data of replaced and dropped files. LevelDB keeps deleted entries on disk
   * until a compaction reaches them, which after a --force re-map doubles the index. (In Node, `level` is
   * classic-level, which has compactRange; its types do not say so.)
   */
  compact(): Promise<void> {
    return (this.db as unknown as {compactRange(start: string, end: string): Promise<void>}).compactRange(`${LAYOUT}/`, `${LAYOUT}0`)
  }

  private async nextFileId(): Promise<number> {
    const meta = await this.db.get(metaKey)
    return meta ? JSON.parse(meta.toString()).nextFileId : 1
  }

  /** Live files by path. */
  async files(): Promise<Map<string, IndexedFile>> {
    const out = new Map<string, IndexedFile>()
    const ids: string[] = []
    for await (const [, id] of this.db.iterator({gte: `${LAYOUT}/p/`, lt: `${LAYOUT}/p0`})) ids.push(id.toString())
    const records = await this.db.getMany(ids.map(fileKey))
    for (const r of records) {
      if (!r) continue
      const f: IndexedFile = JSON.parse(r.toString())
      out.set(f.path, f)
    }
    return out
  }

  /** Writes a file's encoded flows and postings, replacing any earlier entry for its path, atomically. */
  async replaceFile(file: NewIndexedFile, encoded: EncodedFileIndex): Promise<void> {
    const n = await this.nextFileId()
    const id = fileIdText(n)
    const batch: Batch = await this.deletions(file.path)
    for (let chunk = 0; chunk < encoded.flowChunks.ends.length; chunk++) {
      batch.push({type: 'put', key: flowChunkKey(id, chunk), value: asBuffer(packedValue(encoded.flowChunks, chunk))})
    }
    const postingNames = encoded.postingNames === '' ? [] : encoded.postingNames.split('\n')
    postingNames.forEach((k, i) => batch.push({type: 'put', key: `${LAYOUT}/x/${k}/${id}`, value: asBuffer(packedValue(encoded.postings, i))}))
    for (let block = 0; block < encoded.groupBlocks.ends.length; block++) {
      batch.push({type: 'put', key: groupBlockKey(id, block), value: asBuffer(packedValue(encoded.groupBlocks, block))})
    }
    const record: IndexedFile = {...file, id, flows: encoded.flowCount, indexed_end: encoded.indexedEnd}
    batch.push({type: 'put', key: fileKey(id), value: Buffer.from(JSON.stringify(record))})
    // Kept apart from the file record, which every query reads: only a replace needs this list.
    batch.push({type: 'put', key: postingListKey(id), value: Buffer.from(JSON.stringify(postingNames))})
    batch.push({type: 'put', key: pathKey(file.path), value: Buffer.from(id)})
    batch.push({type: 'put', key: metaKey, value: Buffer.from(JSON.stringify({version: LAYOUT_VERSION, nextFileId: n + 1}))})
    await this.db.batch(batch)
    this.wrote = true
  }

  /** Removes a file (gone from disk, or no longer a capture) from the index, atomically. */
  async dropFile(path: string): Promise<void> {
    const batch = await this.deletions(path)
    if (batch.length === 0) return
    await this.db.batch(batch)
    this.wrote = true
  }

  private async deletions(path: string): Promise<Batch> {
    const old = await this.db.get(pathKey(path))
    if (!old) return []
    const id = old.toString()
    const batch: Batch = [
      {type: 'del', key: pathKey(path)}, {type: 'del', key: fileKey(id)}, {type: 'del', key: postingListKey(id)},
    ]
    const list = await this.db.get(postingListKey(id))
    if (list) for (const k of JSON.parse(list.toString()) as string[]) batch.push({type: 'del', key: `${LAYOUT}/x/${k}/${id}`})
    for (const prefix of [flowPrefix(id), groupsPrefix(id)]) {
      for await (const k of this.db.keys({gte: prefix, lt: prefix + '\xff'})) batch.push({type: 'del', key: k})
    }
    return batch
  }

  /**
   * The flow id lists (one per value, each ascending) per file id for field values in [from, to], e.g. all
   * addresses of a CIDR; for ports, the buckets in [from, to] and of their ports those in `ports`. Only live files
   * are returned.
   */
  async lookup(field: string, from: string, to: string, live: Set<string>, ports?: PortRange): Promise<Map<string, Float64Array[]>> {
    const out = new Map<string, Float64Array[]>()
    const range = {gte: postingPrefix(field, from), lt: postingPrefix(field, to) + '\xff'}
    for await (const [key, value] of this.db.iterator(range)) {
      const fileId = key.slice(key.lastIndexOf('/') + 1)
      if (!live.has(fileId)) continue
      const found = ports
        ? decodePortBucket(value, ports[0], ports[1], parseInt(key.split('/')[3], 16))
        : [decodeAscending(value)]
      const lists = out.get(fileId)
      if (lists) lists.push(...found)
      else out.set(fileId, found)
    }
    return out
  }

  /** The flows with these ids (ascending). */
  async flows(fileId: string, ids: Float64Array): Promise<FlowInfo[]> {
    const chunks = [...new Set(Array.from(ids, (id) => Math.floor(id / FLOWS_PER_CHUNK)))]
    const wanted = new Set(ids)
    const values = await this.db.getMany(chunks.map((c) => flowChunkKey(fileId, c)))
    return values.flatMap((v, i) => v === undefined ? [] : decodeFlowChunk(v, (place) => wanted.has(chunks[i] * FLOWS_PER_CHUNK + place)))
  }

  /** Blocks of group offsets of a file (see GROUPS_PER_BLOCK), decoded. */
  async groupBlocks(fileId: string, blocks: number[]): Promise<Float64Array[]> {
    const keys = blocks.map((b) => groupBlockKey(fileId, b))
    let values: (Buffer | undefined)[]
    if (blocks.length <= MANY_BLOCKS) {
      values = await this.db.getMany(keys)
    } else {
      // A broad query wants most blocks: one read of the key range costs far less than thousands of lookups.
      const byKey = new Map(await this.db.iterator({gte: keys[0], lte: keys[keys.length - 1]}).all())
      values = keys.map((k) => byKey.get(k))
    }
    return values.map((v, i) => {
      if (!v) throw new Error(`index ${this.dir} is damaged: no record group block ${blocks[i]} for file ${fileId} (run \`pcapkit map --force\`)`)
      return decodeAscending(v)
    })
  }

  async allFlows(fileId: string): Promise<FlowInfo[]> {
    const out: FlowInfo[] = []
    for await (const v of this.db.values({gte: flowPrefix(fileId), lt: flowPrefix(fileId) + '\xff'})) out.push(...decodeFlowChunk(v, () => true))
    return out
  }
}

/**
 * Removes the keys of earlier layouts (v1/…): their files are then mapped again into this one, since the index no
 * longer lists them. Every layout's keys start with "v<N>/".
 */
async function dropOlderLayouts(db: Level<string, Buffer>): Promise<void> {
  for (let v = 1; v < LAYOUT_VERSION; v++) await db.clear({gte: `v${v}/`, lt: `v${v}0`})
}

/** An index written in an older layout only (never re-mapped since) would answer nothing: say so instead. */
async function refuseOlderLayout(db: Level<string, Buffer>, dir: string): Promise<void> {
  if ((await db.get(metaKey)) !== undefined) return
  for (let v = LAYOUT_VERSION - 1; v >= 1; v--) {
    if ((await db.get(`v${v}/meta`)) === undefined) continue
    await db.close()
    throw new Error(`index ${dir} was written by an older pcapkit (layout v${v}): run \`pcapkit map\` on the same inputs to rebuild it`)
  }
}

/** Buffers arrive from worker threads as plain Uint8Arrays: view them as Buffers again (no copy). */
function asBuffer(v: Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)
}
