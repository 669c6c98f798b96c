/** Times for `before` / `after`: RFC 3339 timestamps and relative durations ("45m ago"), as (seconds, nanoseconds). */

export interface Instant {
  sec: number
  nsec: number
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/

/** An RFC 3339 timestamp with up to nanosecond fractions; undefined if malformed or out of range. */
export function parseRfc3339(text: string): Instant | undefined {
  const m = RFC3339.exec(text)
  if (m === null) return undefined
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number)
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return undefined
  // Date.UTC on whole numbers is exact; reading the date back rejects days the month does not have.
  const ms = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59))
  const date = new Date(ms)
  if (date.getUTCDate() !== day || day < 1) return undefined
  let sec = ms / 1000 + (second === 60 ? 1 : 0)
  if (m[9] !== undefined) {
    const offset = (Number(m[10]) * 60 + Number(m[11])) * 60
    if (Number(m[10]) > 23 || Number(m[11]) > 59) return undefined
    sec -= m[9] === '+' ? offset : -offset
  }
  const nsec = m[7] === undefined ? 0 : Number(m[7].padEnd(9, '0'))
  return {sec, nsec}
}

const UNIT_NS: Record<string, number> = {ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9, d: 86400e9}
const DURATION = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d))+$/
const DURATION_PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g

/** A Go-style duration such as `45m`, `1h30m` or `1.5d`, in nanoseconds; undefined if malformed. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined
  let ns = 0
  for (const [, amount, unit] of text.matchAll(DURATION_PART)) ns += Number(amount) * UNIT_NS[unit]
  return ns
}

/** The instant `durationNs` before `nowMs` (milliseconds since the epoch), computed in whole seconds plus nanoseconds. */
export function instantBefore(nowMs: number, durationNs: number): Instant {
  const durSec = Math.floor(durationNs / 1e9)
  let sec = Math.floor(nowMs / 1000) - durSec
  let nsec = Math.round((nowMs % 1000) * 1e6 - (durationNs - durSec * 1e9))
  if (nsec < 0) {
    nsec += 1e9
    sec -= 1
  }
  return {sec, nsec}
}
