import {CaptureReader} from '../pcap/reader.js'
import {describeError} from '../pcap/errors.js'
import {StatsAccumulator, finishSummary, type CaptureSummary} from './file-stats.js'

export interface MapTask {
  path: string
}

export interface MapResult {
  summary: CaptureSummary
}

/** How often (in records) a worker reports its position, so progress moves inside big files. */
const PROGRESS_EVERY = 1 << 16

/** Reads one capture end to end and summarises it; damage is reported in the summary, never thrown. */
export async function mapCapture(task: MapTask, onProgress?: (bytesDelta: number) => void): Promise<MapResult> {
  let reader: CaptureReader
  try {
    reader = await CaptureReader.open(task.path)
  } catch (e) {
    return {summary: finishSummary(null, new StatsAccumulator(), describeError(e, task.path))}
  }
  const acc = new StatsAccumulator()
  let error: string | null = null
  let reported = 0
  let sinceReport = 0
  try {
    await reader.forEach((rec) => {
      acc.add(rec)
      // Offsets of gzip files count uncompressed bytes: their progress is taken at the end instead.
      if (++sinceReport === PROGRESS_EVERY && onProgress && !reader.gzip) {
        sinceReport = 0
        onProgress(rec.offset - reported)
        reported = rec.offset
      }
    })
  } catch (e) {
    error = describeError(e, task.path)
  } finally {
    await reader.close()
  }
  return {summary: finishSummary(reader, acc, error)}
}
