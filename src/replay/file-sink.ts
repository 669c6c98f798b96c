/*
 * Writes what would have been sent to a capture file, so a replay can be tested without privileges or a network:
 * stamped with the time each frame went out (or its original time with keepTimestamps), written atomically.
 */
import {ReplayError} from './errors.js'
import {NO_LATE_FAILURES, type FrameSink, type LateFailures, type StagedFrame} from './sink.js'
import {AtomicFileSink, PcapngWriter, PcapWriter} from '../pcap/writer.js'

export interface FileFormat {
  /** A classic pcap holds one link type: with more than one the output is pcapng. */
  pcapng: boolean
  /** The one link type of a classic pcap. */
  linkType: number
  nsec: boolean
  /** Declared by a classic pcap (pcapng interfaces declare no limit). */
  snaplen: number
}

/**
 * pcap when every input carries the same single link type, else pcapng. Nanoseconds unless every input is
 * µs and keeps its timestamps: replay-time stamps are taken in nanoseconds.
 */
export function chooseFileFormat(inputs: {linkTypes: number[]; nsec: boolean}[], keepTimestamps: boolean,
  snaplen: number): FileFormat {
  const linkTypes = new Set(inputs.flatMap((i) => i.linkTypes))
  return {
    // An input whose link types are not known yet (a pcapng read only up to its first record) may add others.
    pcapng: linkTypes.size !== 1 || inputs.some((i) => i.linkTypes.length === 0),
    linkType: linkTypes.values().next().value ?? 1,
    nsec: !keepTimestamps || inputs.some((i) => i.nsec),
    snaplen,
  }
}

export class FileSink implements FrameSink {
  readonly description: string
  readonly retries = 0
  readonly errors = new Map<string, number>()
  private readonly writer: PcapWriter | PcapngWriter
  /** Wall-clock time (seconds + ns) at `perfBaseMs` on the performance clock: replay stamps count from there. */
  private readonly epochSec: number
  private readonly epochNsec: number
  private readonly perfBaseMs: number

  constructor(readonly path: string, readonly format: FileFormat, private readonly keepTimestamps: boolean) {
    let out: AtomicFileSink
    try {
      out = new AtomicFileSink(path)
    } catch (e) {
      throw this.writeError(e)
    }
    this.writer = format.pcapng
      ? new PcapngWriter(out)
      : new PcapWriter(out, format.linkType, format.snaplen, format.nsec)
    this.description = `${format.pcapng ? 'pcapng' : 'pcap'} file ${path}`
    this.perfBaseMs = performance.now()
    const epochMs = performance.timeOrigin + this.perfBaseMs
    this.epochSec = Math.floor(epochMs / 1e3)
    this.epochNsec = Math.round((epochMs - this.epochSec * 1e3) * 1e6)
  }

  accepts(linkType: number): boolean {
    return this.format.pcapng || linkType === this.format.linkType
  }

  frameLimit(): number {
    return Infinity
  }

  /** A write error (disk full…) ends the replay: the file would not hold what was sent. */
  send(frame: StagedFrame, nowMs: number): boolean | Promise<boolean> {
    if (!this.keepTimestamps) this.stamp(frame, nowMs)
    let flushed
    try {
      flushed = this.writer.write(frame)
    } catch (e) {
      throw this.writeError(e)
    }
    return flushed ? flushed.then(() => true, (e) => Promise.reject(this.writeError(e))) : true
  }

  /** Every write either succeeded or ended the replay. */
  flush(): LateFailures {
    return NO_LATE_FAILURES
  }

  private writeError(e: unknown): ReplayError {
    return new ReplayError(`cannot write ${this.path}: ${(e as Error).message}`, 'SINK')
  }

  private stamp(frame: StagedFrame, nowMs: number): void {
    const ns = this.epochNsec + Math.round((nowMs - this.perfBaseMs) * 1e6)
    const carry = Math.floor(ns / 1e9)
    frame.tsSec = this.epochSec + carry
    frame.tsNsec = ns - carry * 1e9
    frame.hasTs = true
  }

  async close(): Promise<void> {
    try {
      await this.writer.close()
    } catch (e) {
      throw this.writeError(e)
    }
  }

  abort(): void {
    this.writer.abort()
  }
}
