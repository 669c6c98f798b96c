import {CaptureReader, GOT, type PacketRecord, type ReaderState} from '../pcap/reader.js'
import {decode} from '../decode/decode.js'
import {Fields} from '../decode/fields.js'
import type {TimeWindow} from './time-window.js'
import {GROUP_RECORDS} from '../index/flow-key.js'
import type {GroupOffsets} from './group-offsets.js'

/** Candidate groups whose starts lie within this many bytes of a read's first one are fetched by the same read. */
const READ_AHEAD = 60 << 10

/** The exact per-packet check: the compiled filter over decoded fields and the packet's time. */
export type PacketPredicate = (fields: Fields, tsSec: number, tsNsec: number) => boolean

export interface StreamSource {
  path: string
  /** Saved reader state for random access; null reads the file through (gzip, or a scan). */
  state: ReaderState | null
  /** Record groups to visit (record number >> GROUP_BITS), ascending; null visits every record (a scan). */
  groups: ArrayLike<number> | null
  /** Where the candidate groups start and end; null for a scan and for files read through. */
  groupOffsets: GroupOffsets | null
  /** Where the last indexed record ends (Infinity for a scan): what follows may be damage the map stopped at. */
  indexedEnd: number
}

/**
 * The records of one file that pass the filter and the time window, in file order. With groups and their start
 * offsets it jumps from group to group (fetching nearby candidate groups in one read); otherwise it reads the file
 * through (numbering the records), skipping the groups not asked for. Every record read goes through the exact
 * check, so records of a candidate group that belong to other flows are dropped there.
 */
export class MatchStream {
  readonly rec: PacketRecord
  /** Groups already taken. */
  private visited = 0
  /** Random access: where the records of the current group end (the next group's start). */
  private readEnd = -1
  /** Reading through: the number of the record just read. */
  private record = -1

  /** `order`: the file's index among the query's sources; ties in time go to the lower one (a stable merge). */
  constructor(
    readonly order: number,
    private readonly source: StreamSource,
    private readonly reader: CaptureReader,
    private readonly matches: PacketPredicate,
    private readonly window: TimeWindow,
    private readonly fields: Fields,
  ) {
    this.rec = reader.rec
  }

  static async open(order: number, source: StreamSource, matches: PacketPredicate, window: TimeWindow, fields = new Fields()): Promise<MatchStream> {
    const reader = source.state
      ? await CaptureReader.resume(source.path, source.state)
      : await CaptureReader.open(source.path)
    return new MatchStream(order, source, reader, matches, window, fields)
  }

  /** Moves to the next matching record; false at the end of this file's candidates. */
  async next(): Promise<boolean> {
    const {groups, groupOffsets} = this.source
    const r = this.reader
    // `r.parseNext() === GOT || await r.next()`: a record already buffered is taken without an await (a promise per
    // record read, most of which the filter drops, was a tenth of a broad query's time plus its garbage).
    for (;;) {
      if (groups && groupOffsets && this.source.state) {
        if (this.readEnd < 0 && !this.startRead(groups, groupOffsets)) return false
        // Stop at the read's end before parsing on: past the last indexed record may lie damage.
        if (r.position >= this.readEnd || !(r.parseNext() === GOT || await r.next())) {
          this.readEnd = -1
          continue
        }
      } else if (groups) {
        // Reading through (gzip): take only the records of the groups the index pointed at, and stop after the
        // last one or at the end of the indexed records (what follows may be damage the index stopped at).
        const group = Math.floor((this.record + 1) / GROUP_RECORDS)
        while (this.visited < groups.length && groups[this.visited] < group) this.visited++
        if (this.visited >= groups.length || r.position >= this.source.indexedEnd || !(r.parseNext() === GOT || await r.next())) return false
        this.record++
        if (groups[this.visited] !== group) continue
      } else if (!(r.parseNext() === GOT || await r.next())) {
        return false
      }
      const rec = r.rec
      if (!this.window.contains(rec.tsSec, rec.tsNsec, rec.hasTs)) continue
      decode(rec.buf, rec.dataStart, rec.caplen, rec.linkType, this.fields, rec.origLen)
      if (this.matches(this.fields, rec.tsSec, rec.tsNsec)) return true
    }
  }

  /**
   * Seeks to the next candidate group; its records end where the next group starts. When the seek has to read,
   * the read also covers the candidates starting within READ_AHEAD, whose seeks then find their bytes buffered
   * (the records between them are jumped over, not parsed). false when no group is left.
   */
  private startRead(groups: ArrayLike<number>, offsets: GroupOffsets): boolean {
    if (this.visited >= groups.length) return false
    const group = groups[this.visited++]
    const from = offsets.start(group)
    let last = this.visited
    while (last < groups.length && offsets.start(groups[last]) - from < READ_AHEAD) last++
    this.readEnd = offsets.end(group)
    this.reader.seekTo(from, offsets.end(groups[last - 1]) - from)
    return true
  }

  close(): Promise<void> {
    return this.reader.close()
  }
}
