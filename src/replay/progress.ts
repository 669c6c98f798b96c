/** The live status line of a replay on stderr (only when stderr is a terminal): sent, rate, lag behind schedule. */
import type {ReplayStats} from './stats.js'

const INTERVAL_MS = 500

export class ProgressLine {
  private nextMs = 0
  private lastMs = 0
  private lastSent = 0
  private lastBytes = 0

  private constructor(private readonly stream: NodeJS.WriteStream) {}

  static forStderr(): ProgressLine | undefined {
    return process.stderr.isTTY ? new ProgressLine(process.stderr) : undefined
  }

  /** Cheap to call per packet: renders at most twice a second. `behindMs` is how late the last frame went out. */
  update(stats: ReplayStats, nowMs: number, behindMs: number): void {
    if (nowMs < this.nextMs) return
    const secs = (nowMs - this.lastMs) / 1e3
    const pps = this.lastMs > 0 ? (stats.sent - this.lastSent) / secs : 0
    const mbps = this.lastMs > 0 ? ((stats.sentBytes - this.lastBytes) * 8) / secs / 1e6 : 0
    const behind = behindMs > 0 ? `${behindMs.toFixed(2)} ms behind` : 'on schedule'
    this.stream.write(`\r\x1b[Kreplay: ${stats.sent} sent, ${Math.round(pps)} pps, ${mbps.toFixed(1)} Mbps, ${behind}, loop ${stats.loops + 1}`)
    this.nextMs = nowMs + INTERVAL_MS
    this.lastMs = nowMs
    this.lastSent = stats.sent
    this.lastBytes = stats.sentBytes
  }

  clear(): void {
    if (this.lastMs > 0) this.stream.write('\r\x1b[K')
  }
}
