/*
 * The metadata JSON written by `map` and read by `replay`/`query`: gopherCap's keys (beginning, end, files[].path,
 * packets, size, max_packet_size, snaplen, pps, duration, delay…) with their correct meanings, plus more.
 */
import {readFileSync} from 'node:fs'
import type {CaptureSummary} from './file-stats.js'
import {compareTs, diffNs, formatRfc3339, fractionDigits, humanDuration, parseTime, type Timestamp} from './timefmt.js'
import {AtomicFileSink} from '../pcap/writer.js'

export const METADATA_VERSION = 1

export interface FileMeta {
  path: string
  /** Every record read (a truncated final record is counted in `truncated`, not here). */
  packets: number
  /** Sum of captured lengths. */
  size: number
  /** Sum of original (wire) lengths, as capinfos' "Data size". */
  data_size: number
  max_packet_size: number
  snaplen: number
  /** Earliest and latest packet time, RFC 3339 UTC at the file's precision; null without timestamps. */
  beginning: string | null
  end: string | null
  /** The same two times as exact "seconds.nanoseconds" strings, for programs. */
  beginning_epoch: string | null
  end_epoch: string | null
  /** end - beginning in nanoseconds (exact below ~104 days, a double beyond). */
  duration: number
  duration_human: string
  /** beginning - the set's beginning, in nanoseconds. */
  delay: number
  delay_human: string
  /** Packets per second over the duration; null when the duration is 0. */
  pps: number | null
  /** Records strictly earlier than the record before them. */
  out_of_order: number
  /** Records that carry no timestamp (pcapng Simple Packet Blocks); not in beginning/end. */
  no_timestamp: number
  format: string
  byte_order: string
  ts_precision: string
  gzip: boolean
  link_types: {id: number; name: string}[]
  /** 1 when the file ends inside a record (that record is not counted). */
  truncated: number
  /** Records whose captured length exceeds the declared snaplen (accepted). */
  over_snaplen: number
  error: string | null
  /** For incremental mapping: the file is re-read only when these change. */
  file_size: number
  mtime: string
  /** For a capture inside a tarball (path ARCHIVE#member): the tarball, re-read when it changes. */
  archive?: {path: string; file_size: number; mtime: string}
}

export interface DatasetMeta {
  version: number
  beginning: string | null
  end: string | null
  beginning_epoch: string | null
  end_epoch: string | null
  duration: number
  duration_human: string
  packets: number
  size: number
  data_size: number
  files: FileMeta[]
  failed: number
}

export function epochText([sec, nsec]: Timestamp): string {
  return `${sec}.${String(nsec).padStart(9, '0')}`
}

/** Parses the exact epoch text written in the JSON. */
export function parseEpoch(text: string): Timestamp {
  return parseTime(text)
}

export function fileMeta(path: string, s: CaptureSummary, fileSize: number, mtimeMs: number): FileMeta {
  const digits = fractionDigits(s.tsPrecision)
  const duration = s.first && s.last ? diffNs(s.first, s.last) : 0
  return {
    path,
    packets: s.packets,
    size: s.size,
    data_size: s.dataSize,
    max_packet_size: s.maxPacketSize,
    snaplen: s.snaplen,
    beginning: s.first ? formatRfc3339(s.first, digits) : null,
    end: s.last ? formatRfc3339(s.last, digits) : null,
    beginning_epoch: s.first ? epochText(s.first) : null,
    end_epoch: s.last ? epochText(s.last) : null,
    duration,
    duration_human: humanDuration(duration),
    delay: 0,
    delay_human: '0s',
    pps: duration > 0 ? Math.round((s.packets / (duration / 1e9)) * 1000) / 1000 : null,
    out_of_order: s.outOfOrder,
    no_timestamp: s.untimed,
    format: s.format,
    byte_order: s.byteOrder,
    ts_precision: s.tsPrecision,
    gzip: s.gzip,
    link_types: s.linkTypes,
    truncated: s.truncated,
    over_snaplen: s.overSnaplen,
    error: s.error,
    file_size: fileSize,
    mtime: new Date(mtimeMs).toISOString(),
  }
}

/** Computes the set-level fields and every file's delay from the set's beginning. */
export function datasetMeta(files: FileMeta[]): DatasetMeta {
  let first: Timestamp | null = null
  let last: Timestamp | null = null
  let firstText: string | null = null
  let lastText: string | null = null
  for (const f of files) {
    if (f.beginning_epoch && f.end_epoch) {
      const b = parseEpoch(f.beginning_epoch)
      const e = parseEpoch(f.end_epoch)
      if (!first || compareTs(b, first) < 0) [first, firstText] = [b, f.beginning]
      if (!last || compareTs(e, last) > 0) [last, lastText] = [e, f.end]
    }
  }
  for (const f of files) {
    f.delay = first && f.beginning_epoch ? diffNs(first, parseEpoch(f.beginning_epoch)) : 0
    f.delay_human = humanDuration(f.delay)
  }
  const duration = first && last ? diffNs(first, last) : 0
  return {
    version: METADATA_VERSION,
    beginning: firstText,
    end: lastText,
    beginning_epoch: first ? epochText(first) : null,
    end_epoch: last ? epochText(last) : null,
    duration,
    duration_human: humanDuration(duration),
    packets: files.reduce((n, f) => n + f.packets, 0),
    size: files.reduce((n, f) => n + f.size, 0),
    data_size: files.reduce((n, f) => n + f.data_size, 0),
    files: [...files].sort((a, b) => a.delay - b.delay || a.path.localeCompare(b.path)),
    failed: files.filter((f) => f.error !== null).length,
  }
}

/** Reads a metadata JSON written by `map`; throws a clear error when it is not one. */
export function loadMetadata(path: string): DatasetMeta {
  let data: DatasetMeta
  try {
    data = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new Error(`cannot read metadata ${path}: ${(e as Error).message}`)
  }
  if (!data || !Array.isArray(data.files)) throw new Error(`${path} is not a pcapkit/gopherCap metadata JSON (no "files")`)
  return data
}

export async function writeMetadata(path: string, meta: DatasetMeta): Promise<void> {
  const sink = new AtomicFileSink(path)
  try {
    sink.write(Buffer.from(JSON.stringify(meta, null, 2) + '\n'))
    await sink.commit()
  } catch (e) {
    sink.abort()
    throw e
  }
}
