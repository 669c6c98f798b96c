/*
 * Pass-through of unchanged records in runs. When the input is a classic little-endian pcap and the outputs are
 * too (no decapsulation), a matching record's bytes, header included, are exactly what its output needs; and a
 * rule usually matches stretches of consecutive records. Each rule keeps its current run [start, end) in the
 * reader's buffer and copies it with one call when the run breaks or the buffer is about to be refilled, instead
 * of a header write and a copy per packet (which cost more than the filtering: per-call overhead, not bytes).
 */
import type {CaptureReader, PacketRecord} from '../pcap/reader.js'
import type {RuleOutputs} from './rule-outputs.js'

/** Whether records of `reader` can go to classic pcap outputs as they are. */
export function canPassThrough(reader: CaptureReader): boolean {
  return reader.format === 'pcap' && reader.byteOrder === 'little-endian' && reader.recordHeaderLength === 16
}

export class RecordRuns {
  private readonly bufs: (Buffer | null)[]
  private readonly starts: number[]
  private readonly ends: number[]

  constructor(private readonly outputs: RuleOutputs, rules: number, private readonly linkType: number) {
    this.bufs = new Array<Buffer | null>(rules).fill(null)
    this.starts = new Array<number>(rules).fill(0)
    this.ends = new Array<number>(rules).fill(0)
  }

  /** Adds the record to rule `i`'s run, or writes that run and starts a new one at this record. */
  add(i: number, rec: PacketRecord): void {
    const start = rec.dataStart - (rec.recordLen - rec.caplen)
    if (this.bufs[i] === rec.buf && this.ends[i] === start) {
      this.ends[i] = rec.dataStart + rec.caplen
      return
    }
    this.write(i)
    this.bufs[i] = rec.buf
    this.starts[i] = start
    this.ends[i] = rec.dataStart + rec.caplen
  }

  /** Writes every pending run: call before the reader's buffer changes, and at the end. */
  writeAll(): void {
    for (let i = 0; i < this.bufs.length; i++) this.write(i)
  }

  private write(i: number): void {
    const buf = this.bufs[i]
    if (buf === null) return
    this.outputs.writeRecords(i, buf, this.starts[i], this.ends[i], this.linkType)
    this.bufs[i] = null
  }
}
