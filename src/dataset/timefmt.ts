/** Exact timestamps as (seconds, nanoseconds) pairs, and their text forms. */

export type Timestamp = [sec: number, nsec: number]

/** Digits after the decimal point that show a file's full precision. */
export function fractionDigits(precision: string): number {
  if (precision === 'us') return 6
  if (precision === 'ms') return 3
  if (precision === 's') return 0
  return 9
}

const MAX_DATE_SEC = 8.64e12 // what a JS Date can hold

/** RFC 3339 UTC at the given precision, e.g. 2014-12-09T17:16:09.924505488Z; never a float round trip. */
export function formatRfc3339([sec, nsec]: Timestamp, digits = 9): string {
  if (!Number.isFinite(sec) || Math.abs(sec) > MAX_DATE_SEC) return `@${sec}.${String(nsec).padStart(9, '0')}`
  const base = new Date(sec * 1000).toISOString().slice(0, 19)
  const frac = digits > 0 ? '.' + String(nsec).padStart(9, '0').slice(0, digits) : ''
  return `${base}${frac}Z`
}

/** Parses RFC 3339 (any fraction length, any offset), a date (2015-10-20, UTC) or epoch seconds (1445353834.5). */
export function parseTime(text: string): Timestamp {
  const t = text.trim()
  const epoch = /^(\d+)(?:\.(\d{1,9}))?$/.exec(t)
  if (epoch) return [Number(epoch[1]), Number((epoch[2] ?? '').padEnd(9, '0'))]
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(t)
  if (!m) throw new Error(`cannot read time '${text}': use RFC 3339 (2015-10-20T15:10:34Z), a date or epoch seconds`)
  const [, date, clock = '00:00:00', frac = '', zone = 'Z'] = m
  const ms = Date.parse(`${date}T${clock.length === 5 ? clock + ':00' : clock}${zone.toUpperCase() === 'Z' ? 'Z' : zone}`)
  if (Number.isNaN(ms)) throw new Error(`cannot read time '${text}': not a valid date`)
  return [Math.floor(ms / 1000), Number(frac.padEnd(9, '0'))]
}

export function compareTs(a: Timestamp, b: Timestamp): number {
  return a[0] - b[0] || a[1] - b[1]
}

/** b - a in nanoseconds (a double: exact below about 104 days). */
export function diffNs(a: Timestamp, b: Timestamp): number {
  return (b[0] - a[0]) * 1e9 + (b[1] - a[1])
}

/** Go-style duration text (1h2m3.5s), as gopherCap prints it. */
export function humanDuration(ns: number): string {
  if (ns === 0) return '0s'
  const sign = ns < 0 ? '-' : ''
  let rest = Math.abs(ns)
  if (rest < 1e3) return `${sign}${rest}ns`
  if (rest < 1e6) return `${sign}${trim(rest / 1e3)}µs`
  if (rest < 1e9) return `${sign}${trim(rest / 1e6)}ms`
  const h = Math.floor(rest / 3.6e12)
  rest -= h * 3.6e12
  const m = Math.floor(rest / 6e10)
  rest -= m * 6e10
  const s = trim(rest / 1e9)
  return `${sign}${h ? h + 'h' : ''}${h || m ? m + 'm' : ''}${s}s`
}

function trim(x: number): string {
  return String(Number(x.toFixed(9)))
}

/** Parses durations like 24h, 45m, 1h30m, 2.5s, 500ms, 100us into nanoseconds. */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g
  const unit: Record<string, number> = {ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 6e10, h: 3.6e12, d: 8.64e13}
  let total = 0
  let consumed = 0
  for (const m of text.trim().matchAll(re)) {
    if (m.index !== consumed) break
    total += Number(m[1]) * unit[m[2]]
    consumed += m[0].length
  }
  if (consumed === 0 || consumed !== text.trim().length) {
    throw new Error(`cannot read duration '${text}': use e.g. 24h, 45m, 1h30m, 2.5s, 500ms`)
  }
  return Math.round(total)
}
