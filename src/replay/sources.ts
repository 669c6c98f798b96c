/*
 * The captures a replay reads, with what the merge and the output need to know before reading them: when each
 * starts (so the merge opens it only then) and ends, its link types and timestamp precision. They come from the
 * metadata JSON written by `map` (map once, replay many times: nothing is read up front) or from files and
 * directories, whose first record is read to place them.
 */
import {dirname, isAbsolute, resolve} from 'node:path'
import {existsSync} from 'node:fs'
import pLimit from 'p-limit'
import type {MergeInput} from './merge.js'
import {isAtOrAfterEnd, isBefore, type TimeWindow} from './window.js'
import {DEFAULT_SUFFIXES, discoverCaptures, type DiscoveryOptions} from '../dataset/discover.js'
import {mapCapture} from '../dataset/map-file.js'
import {loadMetadata, parseEpoch, type FileMeta} from '../dataset/metadata.js'
import {CaptureReader} from '../pcap/reader.js'
import {describeError} from '../pcap/errors.js'
import {openCapture} from '../archive/member-reader.js'

export interface ReplaySource extends MergeInput {
  /** The latest record time (Infinity when not known without reading the whole file). */
  endSec: number
  endNsec: number
  linkTypes: number[]
  /** Timestamps finer than microseconds. */
  nsec: boolean
}

export interface SourceList {
  /** Sorted by start time. */
  sources: ReplaySource[]
  /** Files that cannot be replayed, one message each. */
  problems: string[]
  /** Files left out because none of their records falls inside the time window. */
  outsideWindow: number
}

/** Files read at once while placing plain paths: each open holds a 4 MiB read buffer. */
const PROBE_CONCURRENCY = 8
const COARSE_PRECISIONS = new Set(['us', 'ms', 's'])

/** Sources from a metadata JSON; files `map` could not read are reported, not replayed. */
export function sourcesFromMetadata(jsonPath: string, window: TimeWindow): SourceList {
  const meta = loadMetadata(jsonPath)
  const problems: string[] = []
  const sources: ReplaySource[] = []
  for (const f of meta.files) {
    if (f.error) problems.push(f.error.includes(f.path) ? f.error : `${f.path}: ${f.error}`)
    else if (f.packets > 0) sources.push(fromFileMeta(f, jsonPath))
  }
  return keepInWindow(sources, problems, window)
}

function fromFileMeta(f: FileMeta, jsonPath: string): ReplaySource {
  const [startSec, startNsec] = f.beginning_epoch ? parseEpoch(f.beginning_epoch) : [-Infinity, 0]
  const [endSec, endNsec] = f.end_epoch ? parseEpoch(f.end_epoch) : [Infinity, 0]
  return {
    path: locate(f.path, jsonPath),
    startSec, startNsec, endSec, endNsec,
    linkTypes: f.link_types.map((l) => l.id),
    nsec: !COARSE_PRECISIONS.has(f.ts_precision),
  }
}

/** `map` writes absolute paths; a relative one (hand-edited, gopherCap) is tried from here, then beside the JSON. */
function locate(path: string, jsonPath: string): string {
  if (isAbsolute(path) || existsSync(path)) return path
  return resolve(dirname(jsonPath), path)
}

/** Sources from files and directories (recursively, capture suffixes only), each placed by its first record. */
export async function sourcesFromPaths(inputs: string[], window: TimeWindow, selection: DiscoveryOptions = {}): Promise<SourceList> {
  const found = await discoverCaptures(inputs, selection)
  const problems = [...found.problems]
  const limit = pLimit(PROBE_CONCURRENCY)
  const probed = await Promise.all(found.files.map((f) => limit((): Promise<ReplaySource[] | ReplaySource | null> => (f.tarball ? tarballMembers(f.path, selection, problems) : probe(f.path, problems)))))
  return keepInWindow(probed.flat().filter((s): s is ReplaySource => s !== null), problems, window)
}

/** A tarball's capture members (ARCHIVE#member), placed by mapping them once from the stream. */
async function tarballMembers(path: string, selection: DiscoveryOptions, problems: string[]): Promise<ReplaySource[]> {
  const suffixes = selection.suffixes?.length ? selection.suffixes : DEFAULT_SUFFIXES
  const mapped = await mapCapture({path, index: false, tarball: {suffixes, regexp: selection.regexp?.source ?? null}})
  const out: ReplaySource[] = []
  for (const {path: name, summary: s} of mapped) {
    if (s.error) problems.push(s.error)
    else if (s.packets > 0) {
      out.push({
        path: name, startSec: s.first?.[0] ?? -Infinity, startNsec: s.first?.[1] ?? 0,
        endSec: s.last?.[0] ?? Infinity, endNsec: s.last?.[1] ?? 0,
        linkTypes: s.linkTypes.map((l) => l.id), nsec: !COARSE_PRECISIONS.has(s.tsPrecision),
      })
    }
  }
  return out
}

/** Reads a file's header and first record; null (with a problem) when it cannot be read, or has no records. */
async function probe(path: string, problems: string[]): Promise<ReplaySource | null> {
  let reader: CaptureReader | undefined
  try {
    reader = await openCapture(path)
    if (!(await reader.next())) return null
    const rec = reader.rec
    return {
      path,
      startSec: rec.hasTs ? rec.tsSec : -Infinity,
      startNsec: rec.hasTs ? rec.tsNsec : 0,
      endSec: Infinity,
      endNsec: 0,
      // A pcapng may describe more interfaces after its first record: unknown (empty) until read through.
      linkTypes: reader.format === 'pcapng' ? [] : [...new Set(reader.interfaces.map((i) => i.linkType))],
      nsec: !COARSE_PRECISIONS.has(reader.tsPrecision),
    }
  } catch (e) {
    problems.push(describeError(e, path))
    return null
  } finally {
    await reader?.close()
  }
}

function keepInWindow(all: ReplaySource[], problems: string[], window: TimeWindow): SourceList {
  const sources = all.filter((s) => !isBefore(s.endSec, s.endNsec, window) && !isAtOrAfterEnd(s.startSec, s.startNsec, window))
  sources.sort((a, b) => a.startSec - b.startSec || a.startNsec - b.startNsec || a.path.localeCompare(b.path))
  return {sources, problems, outsideWindow: all.length - sources.length}
}
