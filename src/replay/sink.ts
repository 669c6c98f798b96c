/** Where replayed frames go (how to send, kept apart from when: see pacer.ts). */
import type {PacketRecord} from '../pcap/reader.js'
import type {WritablePacket} from '../pcap/writer.js'

/**
 * One frame copied out of the reader: the merge moves on (and may refill the reader's buffer) while the frame
 * waits for its due time, and cap sends from a buffer's first byte. One instance is reused for every frame,
 * growing only for a larger frame than before. (Node 20's Buffer.copy makes one short-lived view per call
 * — lib/buffer.js _copyActual — the only per-frame allocation; it costs a scavenge per ~15k frames.)
 */
export class StagedFrame implements WritablePacket {
  buf = Buffer.allocUnsafe(65536)
  readonly dataStart = 0
  caplen = 0
  origLen = 0
  tsSec = 0
  tsNsec = 0
  hasTs = true
  linkType = 0

  /** Copies the first `length` bytes of the record (less than caplen when truncating to a size limit). */
  copyFrom(rec: PacketRecord, length: number): void {
    if (length > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(length, this.buf.length * 2))
    rec.buf.copy(this.buf, 0, rec.dataStart, rec.dataStart + length)
    this.caplen = length
    this.origLen = rec.origLen
    this.tsSec = rec.tsSec
    this.tsNsec = rec.tsNsec
    this.hasTs = rec.hasTs
    this.linkType = rec.linkType
  }
}

/** Frames a sink had accepted (send returned true) that it then failed to send. */
export interface LateFailures {
  frames: number
  bytes: number
}

export const NO_LATE_FAILURES: LateFailures = Object.freeze({frames: 0, bytes: 0})

export interface FrameSink {
  /** What the run writes to, for messages and the report. */
  readonly description: string
  /** Largest size the record's frame may have to be carried (Infinity when any size goes). */
  frameLimit(rec: PacketRecord): number
  /** Whether frames of this link type make sense on it. */
  accepts(linkType: number): boolean
  /**
   * Sends the frame at `nowMs` (performance clock). false when it could not be sent after retries (counted by
   * the caller); a promise only when the sink had to wait for I/O.
   */
  send(frame: StagedFrame, nowMs: number): boolean | Promise<boolean>
  /**
   * Sends what the sink still holds (a batching sink accepts frames before the kernel has them) and returns how
   * many of the frames it accepted since the last call failed in the end, so the caller can count them as failed.
   */
  flush(): LateFailures
  /** Retries after transient errors, and the messages of failures with their counts. */
  readonly retries: number
  readonly errors: Map<string, number>
  /** Finishes the output (commits the file, closes the interface). */
  close(): Promise<void>
  /** Gives up: removes a partial file, closes the interface. */
  abort(): void
}
