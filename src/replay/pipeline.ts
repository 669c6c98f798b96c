/*
 * The replay loop: merged records → checks (time window, order, link type, filter, size) → pacer → sink.
 * Per record it allocates nothing: one staged frame is reused, waits that need no event-loop turn return no
 * promise, and the merge returns a promise only when a file must be read.
 *
 * While a frame waits for its due time, the merge already moves to the next record (the frame was copied out),
 * so file reads happen in time the replay would spend waiting anyway.
 */
import {nowMs, waitUntil} from './clock.js'
import {CaptureMerge} from './merge.js'
import type {FramePredicate} from './out-filter.js'
import {Pacer, type PaceMode} from './pacer.js'
import type {ProgressLine} from './progress.js'
import {StagedFrame, type FrameSink} from './sink.js'
import type {ReplaySource} from './sources.js'
import {ReplayStats} from './stats.js'
import {isAtOrAfterEnd, isBefore, type TimeWindow} from './window.js'

export interface ReplayPlan {
  /** Sorted by start time. */
  sources: ReplaySource[]
  pace: PaceMode
  window: TimeWindow
  /** Passes over the captures; 0 = until the signal aborts. */
  loops: number
  /** Pause between the end of one pass and the start of the next. */
  loopDelayMs: number
  skipOutOfOrder: boolean
  /** Frames larger than this are skipped, or cut to it with truncateOversize; undefined: the sink's limit. */
  maxFrame: number | undefined
  truncateOversize: boolean
  filter: FramePredicate | null
}

export interface ReplayOutcome {
  stats: ReplayStats
  /** Files that could not be opened or broke while read, each once. */
  problems: string[]
  paced: boolean
}

/** What to do with the current record. */
const SEND = 0
const SKIP = 1
/** At or after --time-to in time order: nothing later can be inside the window. */
const PAST_WINDOW = 2

export class ReplayPipeline {
  readonly stats = new ReplayStats()
  private readonly pacer: Pacer
  private readonly frame = new StagedFrame()
  private readonly problems = new Set<string>()
  /** Bytes of the current record to send (its caplen, or the size limit when truncating). */
  private sendLength = 0

  constructor(
    private readonly plan: ReplayPlan,
    private readonly sink: FrameSink,
    private readonly signal: AbortSignal,
    private readonly progress?: ProgressLine,
  ) {
    this.pacer = new Pacer(plan.pace)
  }

  async run(): Promise<ReplayOutcome> {
    const {plan, stats} = this
    for (let pass = 0; plan.loops === 0 || pass < plan.loops; pass++) {
      if (pass > 0) await this.pauseBetweenLoops()
      if (this.signal.aborted) break
      const handledBefore = stats.sent + stats.failed
      await this.replayPass()
      if (this.signal.aborted) break
      stats.loops++
      // A pass with nothing to send (all filtered, outside the window…) would be the same again: do not spin.
      if (stats.sent + stats.failed === handledBefore) break
    }
    stats.interrupted = this.signal.aborted
    this.progress?.clear()
    return {stats, problems: [...this.problems], paced: this.pacer.paced}
  }

  /**
   * The next pass starts a fresh schedule after the last frame's due time (or its send, if that was later) plus
   * the loop delay: one pass's lateness never eats into the pause, and on-time passes do not drift.
   */
  private async pauseBetweenLoops(): Promise<void> {
    const end = this.stats.sent > 0 ? Math.max(this.pacer.lastDueMs, this.stats.lastSendMs) : nowMs()
    const wait = waitUntil(end + this.plan.loopDelayMs, this.signal)
    if (wait) await wait
    this.pacer.reset()
  }

  private async replayPass(): Promise<void> {
    const merge = new CaptureMerge(this.plan.sources)
    try {
      let more = merge.next()
      if (more !== true && more !== false) more = await more
      while (more && !this.signal.aborted) {
        const verdict = this.admit(merge)
        if (verdict === PAST_WINDOW) break
        let due = 0
        if (verdict === SEND) {
          this.frame.copyFrom(merge.rec, this.sendLength)
          due = this.pacer.dueMs(merge.tsSec, merge.tsNsec, this.sendLength)
        }
        more = merge.next() // read ahead while the staged frame waits
        if (more !== true && more !== false) more = await more
        if (verdict === SEND) {
          const wait = due === -Infinity ? undefined : waitUntil(due, this.signal)
          if (wait) {
            await wait
            if (this.signal.aborted) break
          }
          const sent = this.send(due)
          if (sent) await sent
        }
      }
      this.settleLateFailures()
    } finally {
      await merge.close()
      for (const p of merge.problems) this.problems.add(p)
    }
  }

  /** Counts the record and decides whether it is sent; the first record inside the window anchors the schedule. */
  private admit(merge: CaptureMerge): number {
    const {stats, plan} = this
    stats.read++
    const sec = merge.tsSec
    const nsec = merge.tsNsec
    if (isBefore(sec, nsec, plan.window)) {
      stats.outsideWindow++
      return SKIP
    }
    if (isAtOrAfterEnd(sec, nsec, plan.window)) {
      stats.outsideWindow++
      return merge.outOfOrder ? SKIP : PAST_WINDOW
    }
    if (!this.pacer.anchored) this.pacer.anchor(nowMs(), sec, nsec)
    if (merge.outOfOrder) {
      stats.outOfOrder++
      if (plan.skipOutOfOrder) return SKIP
    }
    const rec = merge.rec
    if (!this.sink.accepts(rec.linkType)) {
      stats.wrongLinkType++
      return SKIP
    }
    if (plan.filter !== null && !plan.filter(rec)) {
      stats.filtered++
      return SKIP
    }
    let length = rec.caplen
    const limit = plan.maxFrame ?? this.sink.frameLimit(rec)
    if (length > limit) {
      if (!plan.truncateOversize) {
        stats.oversize++
        return SKIP
      }
      stats.truncated++
      length = limit
    }
    this.sendLength = length
    return SEND
  }

  /** Sends the staged frame and accounts for it; a promise only when the sink waited for I/O. */
  private send(due: number): Promise<void> | undefined {
    const now = nowMs()
    const {stats} = this
    const lateMs = due === -Infinity ? 0 : now - due
    if (this.pacer.paced && due !== -Infinity) {
      stats.lateness.record(lateMs > 0 ? lateMs * 1e6 : 0)
      if (due > stats.lastDueMs) stats.lastDueMs = due
    }
    if (stats.firstSendMs < 0) stats.firstSendMs = now
    stats.lastSendMs = now
    const length = this.frame.caplen
    const ok = this.sink.send(this.frame, now)
    this.progress?.update(stats, now, lateMs)
    if (ok === true || ok === false) {
      this.count(ok, length)
      return undefined
    }
    return ok.then((flushed) => this.count(flushed, length))
  }

  /** Frames a batching sink accepted but then failed to send move from sent to failed. */
  private settleLateFailures(): void {
    const late = this.sink.flush()
    this.stats.sent -= late.frames
    this.stats.sentBytes -= late.bytes
    this.stats.failed += late.frames
  }

  private count(ok: boolean, length: number): void {
    if (ok) {
      this.stats.sent++
      this.stats.sentBytes += length
    } else {
      this.stats.failed++
    }
  }
}
