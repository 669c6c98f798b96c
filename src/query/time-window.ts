import type {Ast} from '../filter/ast.js'
import {compareTs, type Timestamp} from '../dataset/timefmt.js'

/** A half-open time interval [from, to); either end may be open. */
export class TimeWindow {
  constructor(readonly from: Timestamp | null = null, readonly to: Timestamp | null = null) {}

  get bounded(): boolean {
    return this.from !== null || this.to !== null
  }

  /** Records without a timestamp are only inside an unbounded window. */
  contains(sec: number, nsec: number, hasTs = true): boolean {
    if (!hasTs) return !this.bounded
    const f = this.from
    if (f && (sec < f[0] || (sec === f[0] && nsec < f[1]))) return false
    const t = this.to
    return !(t && (sec > t[0] || (sec === t[0] && nsec >= t[1])))
  }

  /** Whether anything in [first, last] (inclusive; null = unknown) can fall inside. */
  overlaps(first: Timestamp | null, last: Timestamp | null): boolean {
    if (!first || !last) return !this.bounded
    const f = this.from
    if (f && (last[0] < f[0] || (last[0] === f[0] && last[1] < f[1]))) return false
    const t = this.to
    return !(t && (first[0] > t[0] || (first[0] === t[0] && first[1] >= t[1])))
  }

  /** The intersection with another window. */
  and(other: TimeWindow): TimeWindow {
    const later = (a: Timestamp | null, b: Timestamp | null): Timestamp | null => (!a ? b : !b ? a : compareTs(a, b) >= 0 ? a : b)
    const earlier = (a: Timestamp | null, b: Timestamp | null): Timestamp | null => (!a ? b : !b ? a : compareTs(a, b) <= 0 ? a : b)
    return new TimeWindow(later(this.from, other.from), earlier(this.to, other.to))
  }
}

/** The window implied by `before`/`after` primitives that every match must satisfy (a top-level `and` chain). */
export function windowOf(ast: Ast): TimeWindow {
  if (ast.kind === 'time') {
    const t: Timestamp = [ast.sec, ast.nsec]
    return ast.op === 'after' ? new TimeWindow(t, null) : new TimeWindow(null, t)
  }
  if (ast.kind === 'and') return ast.args.map(windowOf).reduce((a, b) => a.and(b), new TimeWindow())
  return new TimeWindow()
}
