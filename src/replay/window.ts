/** The --time-from/--time-to cut: records at or after `from` and before `to`, compared as exact (sec, ns). */
export interface TimeWindow {
  fromSec: number
  fromNsec: number
  toSec: number
  toNsec: number
}

export const OPEN_WINDOW: TimeWindow = {fromSec: -Infinity, fromNsec: 0, toSec: Infinity, toNsec: 0}

export function isBefore(sec: number, nsec: number, w: TimeWindow): boolean {
  return sec < w.fromSec || (sec === w.fromSec && nsec < w.fromNsec)
}

export function isAtOrAfterEnd(sec: number, nsec: number, w: TimeWindow): boolean {
  return sec > w.toSec || (sec === w.toSec && nsec >= w.toNsec)
}
