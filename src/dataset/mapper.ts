import {existsSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {discoverCaptures, type FoundFile} from './discover.js'
import {datasetMeta, fileMeta, loadMetadata, type DatasetMeta, type FileMeta} from './metadata.js'
import type {MapResult, MapTask} from './map-file.js'
import {WorkerPool, siblingScript} from './worker-pool.js'

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

function unchanged(prev: FileMeta | undefined, f: FoundFile): prev is FileMeta {
  return prev !== undefined && prev.file_size === f.size && Date.parse(prev.mtime) === Math.floor(f.mtimeMs)
}

/** Discovers captures, maps new or changed ones on worker threads and returns the dataset metadata. */
export async function mapDataset(opts: MapOptions): Promise<MapOutcome> {
  const {files, problems} = await discoverCaptures(opts.inputs, {suffixes: opts.suffixes, regexp: opts.regexp})
  const before = new Map<string, FileMeta>()
  if (opts.previous && existsSync(opts.previous) && !opts.force) {
    for (const f of loadMetadata(opts.previous).files) before.set(f.path, f)
  }
  const results: FileMeta[] = []
  const todo: FoundFile[] = []
  for (const f of files) {
    const prev = before.get(f.path)
    if (unchanged(prev, f)) results.push(prev)
    else todo.push(f)
  }
  const reused = results.length
  const progress = opts.progress
  progress?.start(todo.length, todo.reduce((n, f) => n + f.size, 0))
  const seen = new Map<string, number>()
  const pool = new WorkerPool<MapTask, MapResult>(siblingScript(import.meta.url, 'map-worker'),
    opts.workers ?? availableParallelism())
  const byPath = new Map(todo.map((f) => [f.path, f]))
  try {
    await pool.run(todo.map((f) => ({path: f.path})), (task, result) => {
      const f = byPath.get(task.path)!
      results.push(fileMeta(f.path, result.summary, f.size, Math.floor(f.mtimeMs)))
      progress?.advance(Math.max(0, f.size - (seen.get(task.path) ?? 0)), 1)
    }, (task, bytes) => {
      seen.set(task.path, (seen.get(task.path) ?? 0) + bytes)
      progress?.advance(bytes, 0)
    })
  } finally {
    progress?.stop()
  }
  return {meta: datasetMeta(results), mapped: todo.length, reused, problems}
}
