import {CaptureReader, type ReaderState} from '../pcap/reader.js'
import {describeError} from '../pcap/errors.js'
import type {EncodedFileIndex} from '../index/layout.js'
import {StatsAccumulator, finishSummary, type CaptureSummary} from './file-stats.js'

export interface MapTask {
  path: string
  /** Also build the flow table for the field index (plain files only: tar members cannot be read by offset). */
  index: boolean
  /** A tarball: map its capture members chosen by these suffixes and regexp (source text). */
  tarball?: {suffixes: string[]; regexp: string | null}
}

export interface MapResult {
  /** The file, or ARCHIVE#member for a capture inside a tarball. */
  path: string
  /** Size and mtime (ms) of a tar member, from its header. */
  member?: {size: number; mtimeMs: number}
  summary: CaptureSummary
  /** With task.index: the encoded flows and postings, and what is needed to read records back by offset. */
  index?: EncodedFileIndex
  state?: ReaderState
}

/** Reads one capture end to end and summarises (and indexes) it; damage is reported, never thrown. */
export async function mapCapture(task: MapTask, onProgress?: (bytesDelta: number) => void): Promise<MapResult[]> {
  // Tar support is loaded only for tarballs: every worker's start-up counts on a dataset of small files.
  if (task.tarball) return (await import('./map-tarball.js')).mapTarball(task.path, task.tarball)
  let reader: CaptureReader
  try {
    reader = await CaptureReader.open(task.path)
  } catch (e) {
    return [{path: task.path, summary: finishSummary(null, new StatsAccumulator(), describeError(e, task.path))}]
  }
  return [await mapReader(task.path, reader, task.index, onProgress)]
}

export async function mapReader(path: string, reader: CaptureReader, index: boolean, onProgress?: (bytesDelta: number) => void): Promise<MapResult> {
  const acc = new StatsAccumulator()
  // The index builder is loaded only when indexing: plain mapping starts each worker faster.
  const indexer = index ? new (await import('./flow-indexer.js')).FlowIndexer(acc) : null
  let error: string | null = null
  // Progress per buffer (MiB), not per record: the per-record path stays a bare accumulate.
  const progress = onProgress ? reader.progressHook(onProgress) : undefined
  try {
    await reader.summarize(indexer ?? acc, progress)
  } catch (e) {
    error = describeError(e, path)
  } finally {
    await reader.close()
  }
  const summary = finishSummary(reader, acc, error)
  return indexer ? {path, summary, index: indexer.encode(), state: reader.state()} : {path, summary}
}
