/*
 * One global timeline over many captures: a k-way merge by timestamp (binary heap of files keyed by their head
 * record), so files written in parallel by several capture workers come out in true time order rather than file
 * after file. Each CaptureReader reuses one record, so the merge never copies: a file's head record stays in its
 * reader until that file is popped, and only the popped reader is advanced, on the next call.
 *
 * Files are opened only when the timeline reaches their start, so a long dataset keeps few readers (and their
 * 4 MiB buffers) open at once.
 */
import {GOT, NEED, type CaptureReader, type PacketRecord} from '../pcap/reader.js'
import {describeError} from '../pcap/errors.js'
import {openCapture} from '../archive/member-reader.js'
import {TimeOrderHeap} from '../pcap/time-order-heap.js'


export interface MergeInput {
  path: string
  /**
   * No record is needed before this time (the file's first record, or its earliest from the metadata), so the
   * file is opened when the timeline gets there. -Infinity opens it at the start.
   */
  startSec: number
  startNsec: number
}

export class CaptureMerge {
  /** The current record, valid until the next call to next(). */
  rec!: PacketRecord
  /**
   * Its place on the timeline: its timestamp, or for a record without one (pcapng simple packet block) the
   * latest time of its file so far, so it follows the record before it (-Infinity when there is none).
   */
  tsSec = 0
  tsNsec = 0
  /** Earlier than a record already taken from the same file: it cannot be placed in time. */
  outOfOrder = false
  /** Files that could not be opened or broke while being read, one message each. */
  readonly problems: string[] = []

  private readonly readers: (CaptureReader | null)[]
  /** Per file: the latest time taken from it so far, whether the head record is out of order. */
  private readonly latestSec: Float64Array
  private readonly latestNsec: Float64Array
  private readonly headLate: Uint8Array
  /** Files by their head record's key. */
  private readonly heap: TimeOrderHeap
  /** The file popped last, advanced on the next call (its record must stay valid until then). */
  private current = -1
  private nextToOpen = 0
  private readonly closing: Promise<void>[] = []

  /** `inputs` must be sorted by start time. */
  constructor(private readonly inputs: MergeInput[]) {
    const n = inputs.length
    this.readers = new Array<CaptureReader | null>(n).fill(null)
    this.latestSec = new Float64Array(n).fill(-Infinity)
    this.latestNsec = new Float64Array(n)
    this.headLate = new Uint8Array(n)
    this.heap = new TimeOrderHeap(n)
  }

  /**
   * Moves to the next record in time order: true with `rec` set, false at the end. Returns a promise only when a
   * file has to be read or opened, so the common case allocates nothing.
   */
  next(): boolean | Promise<boolean> {
    if (this.current >= 0) {
      const i = this.current
      this.current = -1
      if (this.advance(i)) return this.refillThenPop(i)
    }
    return this.openDue() ? this.openThenPop() : this.pop()
  }

  /** Closes every reader (call when done, also after an error). */
  async close(): Promise<void> {
    for (let i = 0; i < this.readers.length; i++) if (this.readers[i]) this.finish(i)
    await Promise.all(this.closing)
  }

  /**
   * Parses the next record of file i from its buffer: it joins the heap or the file ends. Returns true when
   * the buffer holds no whole record and the reader must read more first.
   */
  private advance(i: number): boolean {
    let r: number
    try {
      r = this.readers[i]!.parseNext()
    } catch (e) {
      this.drop(i, e)
      return false
    }
    if (r === GOT) this.push(i)
    else if (r !== NEED) this.finish(i)
    return r === NEED
  }

  private async refillThenPop(i: number): Promise<boolean> {
    try {
      if (await this.readers[i]!.next()) this.push(i)
      else this.finish(i)
    } catch (e) {
      this.drop(i, e)
    }
    return this.openDue() ? this.openThenPop() : this.pop()
  }

  /** Whether the next unopened file starts at or before the earliest head (or nothing is open). */
  private openDue(): boolean {
    if (this.nextToOpen >= this.inputs.length) return false
    const next = this.inputs[this.nextToOpen]
    return this.heap.isBeforeTop(next.startSec, next.startNsec)
  }

  private async openThenPop(): Promise<boolean> {
    while (this.openDue()) {
      const i = this.nextToOpen++
      const path = this.inputs[i].path
      let reader: CaptureReader | null = null
      try {
        reader = await openCapture(path)
        this.readers[i] = reader
        if (await reader.next()) this.push(i)
        else this.finish(i)
      } catch (e) {
        if (reader) this.drop(i, e)
        else this.problems.push(describeError(e, path))
      }
    }
    return this.pop()
  }

  private pop(): boolean {
    const i = this.heap.pop()
    if (i < 0) return false
    this.current = i
    this.rec = this.readers[i]!.rec
    this.tsSec = this.heap.secOf(i)
    this.tsNsec = this.heap.nsecOf(i)
    this.outOfOrder = this.headLate[i] === 1
    return true
  }

  /** Keys file i by its new head record and puts it on the heap. */
  private push(i: number): void {
    const rec = this.readers[i]!.rec
    const sec = rec.hasTs ? rec.tsSec : this.latestSec[i]
    const nsec = rec.hasTs ? rec.tsNsec : this.latestNsec[i]
    const late = sec < this.latestSec[i] || (sec === this.latestSec[i] && nsec < this.latestNsec[i])
    if (!late) {
      this.latestSec[i] = sec
      this.latestNsec[i] = nsec
    }
    this.headLate[i] = late ? 1 : 0
    this.heap.push(i, sec, nsec)
  }

  /** Closing a file only read cannot lose anything, so a failure to close is not worth an unhandled rejection. */
  private finish(i: number): void {
    this.closing.push(this.readers[i]!.close().catch(() => {}))
    this.readers[i] = null
  }

  /** A file that breaks mid-way keeps the records it gave; the message names it and the byte offset. */
  private drop(i: number, e: unknown): void {
    this.problems.push(describeError(e, this.inputs[i].path))
    this.finish(i)
  }
}
