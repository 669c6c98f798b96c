import {CaptureReader, type PacketRecord, type ReaderState} from '../pcap/reader.js'
import {decode} from '../decode/decode.js'
import {Fields} from '../decode/fields.js'
import type {TimeWindow} from './time-window.js'

const READ_AHEAD = 60 << 10
const RECORD_ALLOWANCE = 2048

/** The exact per-packet check: the compiled filter over decoded fields and the packet's time. */
export type PacketPredicate = (fields: Fields, tsSec: number, tsNsec: number) => boolean

export interface StreamSource {
  path: string
  /** Saved reader state for random access; null reads the file from its start (gzip, or a scan). */
  state: ReaderState | null
  /** Record offsets to visit, ascending; null visits every record (a scan). */
  offsets: ArrayLike<number> | null
}

/**
 * The records of one file that pass the filter and the time window, in file order. With offsets and a saved state
 * it jumps from record to record; otherwise it reads the file through, skipping records not asked for.
 */
export class MatchStream {
  readonly rec: PacketRecord
  /** Offsets already visited. */
  private visited = 0

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
    const reader = source.state && source.offsets
      ? await CaptureReader.resume(source.path, source.state)
      : await CaptureReader.open(source.path)
    return new MatchStream(order, source, reader, matches, window, fields)
  }

  /** Moves to the next matching record; false at the end of this file's candidates. */
  async next(): Promise<boolean> {
    const {offsets, state} = this.source
    const r = this.reader
    for (;;) {
      if (offsets && state) {
        if (this.visited >= offsets.length) return false
        const at = offsets[this.visited++]
        // Read up to the last candidate within one random-access buffer, plus room for its record.
        let last = this.visited
        while (last < offsets.length && offsets[last] - at < READ_AHEAD) last++
        r.seekTo(at, offsets[last - 1] - at + RECORD_ALLOWANCE)
        if (!(await r.next())) return false
      } else {
        if (!(await r.next())) return false
        if (offsets) {
          // Reading through (gzip): take only the records the index pointed at.
          while (this.visited < offsets.length && offsets[this.visited] < r.rec.offset) this.visited++
          if (this.visited >= offsets.length) return false
          if (offsets[this.visited] !== r.rec.offset) continue
          this.visited++
        }
      }
      const rec = r.rec
      if (!this.window.contains(rec.tsSec, rec.tsNsec, rec.hasTs)) continue
      decode(rec.buf, rec.dataStart, rec.caplen, rec.linkType, this.fields, rec.origLen)
      if (this.matches(this.fields, rec.tsSec, rec.tsNsec)) return true
    }
  }

  close(): Promise<void> {
    return this.reader.close()
  }
}
