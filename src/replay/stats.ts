/** What a replay did, counted on the hot path without allocating, and the report built from it at the end. */
import {DurationHistogram} from './histogram.js'

export class ReplayStats {
  /** Records taken from the captures (every loop). */
  read = 0
  sent = 0
  sentBytes = 0
  /** Frames the sink could not send, after its retries. */
  failed = 0
  /** Over the frame size limit and skipped; with --mtu-trunc they are cut to it and sent instead (truncated). */
  oversize = 0
  truncated = 0
  /** Rejected by --out-bpf. */
  filtered = 0
  /** Earlier than a record already replayed from the same file (sent at once, or skipped with --skip-ooo). */
  outOfOrder = 0
  /** Before --time-from or at/after --time-to. */
  outsideWindow = 0
  /** Of a link type the interface does not carry (e.g. Linux cooked captures onto Ethernet). */
  wrongLinkType = 0
  loops = 0
  interrupted = false
  /** How late each paced frame went out (send time − due time). */
  readonly lateness = new DurationHistogram()
  /** Performance-clock times of the first and last send, and the due time of the last one. */
  firstSendMs = -1
  lastSendMs = -1
  lastDueMs = -1
}

export interface ReplayReport {
  files: {replayed: number; outside_window: number; skipped: string[]}
  output: string
  loops: number
  interrupted: boolean
  packets: {
    read: number
    sent: number
    failed: number
    retries: number
    oversize: number
    truncated: number
    filtered: number
    out_of_order: number
    out_of_order_action: 'sent' | 'skipped'
    outside_window: number
    wrong_link_type: number
  }
  bytes: number
  /** First to last send, and what the schedule asked for between them (null at top speed). */
  elapsed_s: number
  expected_s: number | null
  pps: number
  mbps: number
  /** How late frames went out against the schedule, in µs (null at top speed). */
  lateness_us: {p50: number; p99: number; max: number} | null
  send_errors: Record<string, number>
}

export interface ReportContext {
  replayedFiles: number
  filesOutsideWindow: number
  skippedFiles: string[]
  output: string
  skipOutOfOrder: boolean
  paced: boolean
  retries: number
  sendErrors: Map<string, number>
}

const round3 = (x: number): number => Math.round(x * 1e3) / 1e3

export function buildReport(s: ReplayStats, ctx: ReportContext): ReplayReport {
  const elapsedMs = s.sent > 0 ? s.lastSendMs - s.firstSendMs : 0
  const perSec = elapsedMs > 0 ? 1e3 / elapsedMs : 0
  const us = (ns: number): number => round3(ns / 1e3)
  return {
    files: {replayed: ctx.replayedFiles, outside_window: ctx.filesOutsideWindow, skipped: ctx.skippedFiles},
    output: ctx.output,
    loops: s.loops,
    interrupted: s.interrupted,
    packets: {
      read: s.read,
      sent: s.sent,
      failed: s.failed,
      retries: ctx.retries,
      oversize: s.oversize,
      truncated: s.truncated,
      filtered: s.filtered,
      out_of_order: s.outOfOrder,
      out_of_order_action: ctx.skipOutOfOrder ? 'skipped' : 'sent',
      outside_window: s.outsideWindow,
      wrong_link_type: s.wrongLinkType,
    },
    bytes: s.sentBytes,
    elapsed_s: round3(elapsedMs / 1e3),
    expected_s: ctx.paced && s.sent > 0 ? round3((s.lastDueMs - s.firstSendMs) / 1e3) : null,
    pps: Math.round(s.sent * perSec),
    mbps: round3((s.sentBytes * 8 * perSec) / 1e6),
    lateness_us: ctx.paced && s.lateness.count > 0
      ? {p50: us(s.lateness.quantileNs(0.5)), p99: us(s.lateness.quantileNs(0.99)), max: us(s.lateness.maxNs)}
      : null,
    send_errors: Object.fromEntries(ctx.sendErrors),
  }
}
