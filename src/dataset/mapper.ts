import {existsSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {DEFAULT_SUFFIXES, discoverCaptures, type FoundFile} from './discover.js'
import {datasetMeta, fileMeta, loadMetadata, type DatasetMeta, type FileMeta} from './metadata.js'
import type {MapResult, MapTask} from './map-file.js'
import {WorkerPool, siblingScript} from './worker-pool.js'
import type {IndexStore, IndexedFile} from '../index/store.js'

export interface MapOptions {
  inputs: string[]
  suffixes?: string[]
  regexp?: RegExp
  workers?: number
  /** Earlier output to reuse entries from (unchanged size and mtime). */
  previous?: string
  /** Re-read every file even when the previous output has it. */
  force?: boolean
  progress?: MapProgress
  /** Build or update the field index in this LevelDB directory. */
  indexDir?: string
}

/** Receives progress: totals once, then byte and file increments. */
export interface MapProgress {
  start(files: number, bytes: number): void
  advance(bytes: number, filesDone: number): void
  stop(): void
}

export interface MapOutcome {
  meta: DatasetMeta
  /** Files read in this run, and files whose previous entry was reused. */
  mapped: number
  reused: number
  /** Inputs that could not be listed (missing paths…). */
  problems: string[]
}

function unchanged(prev: {file_size: number; mtime: string} | undefined, f: FoundFile): boolean {
  return prev !== undefined && prev.file_size === f.size && Date.parse(prev.mtime) === Math.floor(f.mtimeMs)
}

/** Discovers captures, maps new or changed ones on worker threads and returns the dataset metadata. */
export async function mapDataset(opts: MapOptions): Promise<MapOutcome> {
  const {files, problems} = await discoverCaptures(opts.inputs, {suffixes: opts.suffixes, regexp: opts.regexp})
  const before = new Map<string, FileMeta>()
  const beforeInArchive = new Map<string, FileMeta[]>()
  if (opts.previous && existsSync(opts.previous) && !opts.force) {
    for (const f of loadMetadata(opts.previous).files) {
      if (f.archive) beforeInArchive.set(f.archive.path, [...(beforeInArchive.get(f.archive.path) ?? []), f])
      else before.set(f.path, f)
    }
  }
  // LevelDB is loaded only when indexing: it adds to the start-up of every plain map.
  const index = opts.indexDir ? await (await import('../index/store.js')).IndexStore.open(opts.indexDir, true) : null
  try {
    const indexed = index ? await index.files() : new Map<string, IndexedFile>()
    const results: FileMeta[] = []
    const todo: FoundFile[] = []
    for (const f of files) {
      const prev = before.get(f.path)
      const members = beforeInArchive.get(f.path)
      if (f.tarball && members && members.every((m) => unchanged(m.archive, f))) results.push(...members)
      // The index is checked too: a run killed between index and JSON writes is repaired by re-mapping.
      else if (!f.tarball && unchanged(prev, f) && (!index || unchanged(indexed.get(f.path), f))) results.push(prev!)
      else todo.push(f)
    }
    const replacing = index !== null && (todo.some((f) => indexed.has(f.path)) || [...indexed.keys()].some((p) => !existsSync(p)))
    if (index) await dropVanished(index, indexed)
    const reused = results.length
    const progress = opts.progress
    progress?.start(todo.length, todo.reduce((n, f) => n + f.size, 0))
    const seen = new Map<string, number>()
    const {mapCapture} = await import('./map-file.js')
    const pool = new WorkerPool<MapTask, MapResult[]>(siblingScript(import.meta.url, 'map-worker'),
      opts.workers ?? availableParallelism(), mapCapture)
    const byPath = new Map(todo.map((f) => [f.path, f]))
    let writes = Promise.resolve()
    try {
      // Largest files first, so no worker is left reading one big file alone at the end.
      const bySize = [...todo].sort((a, b) => b.size - a.size)
      const tarball = {suffixes: opts.suffixes?.length ? opts.suffixes : DEFAULT_SUFFIXES, regexp: opts.regexp?.source ?? null}
      const tasks = bySize.map((f): MapTask => ({path: f.path, index: index !== null && !f.tarball, tarball: f.tarball ? tarball : undefined}))
      await pool.run(tasks, (task, mapped) => {
        const f = byPath.get(task.path)!
        for (const result of mapped) {
          const meta = result.member
            ? {...fileMeta(result.path, result.summary, result.member.size, result.member.mtimeMs),
              archive: {path: f.path, file_size: f.size, mtime: new Date(Math.floor(f.mtimeMs)).toISOString()}}
            : fileMeta(f.path, result.summary, f.size, Math.floor(f.mtimeMs))
          results.push(meta)
          if (index && result.index && result.state) {
            const {index: encoded, state} = result
            // One batch per file, in order: LevelDB gets one writer and each file lands whole or not at all.
            writes = writes.then(() => index.replaceFile({
              path: f.path, file_size: f.size, mtime: meta.mtime, first: meta.beginning_epoch, last: meta.end_epoch,
              packets: meta.packets, gzip: meta.gzip, state,
            }, encoded))
          }
        }
        progress?.advance(Math.max(0, f.size - (seen.get(task.path) ?? 0)), 1)
      }, (task, bytes) => {
        seen.set(task.path, (seen.get(task.path) ?? 0) + bytes)
        progress?.advance(bytes, 0)
      })
    } finally {
      await writes
      progress?.stop()
    }
    if (replacing) await index.compact()
    return {meta: datasetMeta(results), mapped: todo.length, reused, problems}
  } finally {
    await index?.close()
  }
}

/** Files that are gone from disk leave the index. */
async function dropVanished(index: IndexStore, indexed: Map<string, IndexedFile>): Promise<void> {
  for (const path of indexed.keys()) if (!existsSync(path)) await index.dropFile(path)
}
