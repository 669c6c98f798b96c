/*
 * When each packet is due (when to send, kept apart from how to send, as tcpreplay does). The schedule is
 * absolute: a packet is due at start + (ts − ts₀) / speed (or start + n / pps, start + bits / bps), computed from
 * the anchor alone. A late packet is sent at once and shifts nothing after it, so error never accumulates — unlike
 * sleeping for each inter-packet gap, where every oversleep adds up (gopherCap's per-file relative sleeps).
 */

export type PaceMode =
  /** Original timing scaled by `speed` (2 = twice as fast, 0.5 = half speed). */
  | {kind: 'timeline'; speed: number}
  | {kind: 'pps'; pps: number}
  | {kind: 'mbps'; mbps: number}
  | {kind: 'topspeed'}

export class Pacer {
  /** Whether due times mean anything (not --topspeed): lateness is measured only then. */
  readonly paced: boolean
  anchored = false
  /** The performance-clock time the schedule started, and the latest due time handed out. */
  startMs = 0
  lastDueMs = 0
  private sec0 = 0
  private nsec0 = 0
  private packets = 0
  private bits = 0
  private readonly msPerNs: number
  private readonly msPerPacket: number
  private readonly msPerBit: number

  constructor(readonly mode: PaceMode) {
    this.paced = mode.kind !== 'topspeed'
    this.msPerNs = mode.kind === 'timeline' ? 1 / (1e6 * mode.speed) : 0
    this.msPerPacket = mode.kind === 'pps' ? 1e3 / mode.pps : 0
    this.msPerBit = mode.kind === 'mbps' ? 1 / (1e3 * mode.mbps) : 0
  }

  /**
   * Starts the schedule at `startMs` with the packet at (sec, nsec) as ts₀. A record without a timestamp
   * (-Infinity) cannot anchor the original timeline, so the first one that has one does.
   */
  anchor(startMs: number, sec: number, nsec: number): void {
    if (this.mode.kind === 'timeline' && sec === -Infinity) return
    this.anchored = true
    this.startMs = startMs
    this.lastDueMs = startMs
    this.sec0 = sec
    this.nsec0 = nsec
    this.packets = 0
    this.bits = 0
  }

  /** Forgets the anchor: the next loop over the captures starts a fresh schedule. */
  reset(): void {
    this.anchored = false
  }

  /** The performance-clock time the packet is due; -Infinity means now. Rate modes count the packet. */
  dueMs(sec: number, nsec: number, bytes: number): number {
    let due: number
    switch (this.mode.kind) {
      case 'timeline':
        // (sec − sec0) * 1e9 is exact in a double for gaps below ~104 days; records without a time go at once.
        due = sec === -Infinity ? -Infinity : this.startMs + ((sec - this.sec0) * 1e9 + (nsec - this.nsec0)) * this.msPerNs
        break
      case 'pps':
        due = this.startMs + this.packets++ * this.msPerPacket
        break
      case 'mbps':
        due = this.startMs + this.bits * this.msPerBit
        this.bits += bytes * 8
        break
      default:
        return -Infinity
    }
    if (due > this.lastDueMs) this.lastDueMs = due
    return due
  }
}
