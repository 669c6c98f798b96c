import type {ExtractSummary} from './extractor.js'

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

export function formatBytes(bytes: number): string {
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${UNITS[unit]}`
}

/** The live status: how far into the tarball, and what became of the members so far. */
export function progressText(summary: ExtractSummary, bytesRead: number, size: number | null): string {
  const read = size === null
    ? formatBytes(bytesRead)
    : `${formatBytes(bytesRead)} of ${formatBytes(size)} (${Math.floor((100 * bytesRead) / Math.max(size, 1))}%)`
  return `read ${read}, ${summary.matched} matched, ${summary.extracted} extracted, ${summary.skipped} skipped`
}

/** The closing summary, a few lines for people (--json carries the same figures). */
export function summaryText(summary: ExtractSummary, run: {dryRun: boolean; bytesRead: number; seconds: number}): string {
  const extracted = run.dryRun
    ? `${summary.extracted} would be extracted`
    : `${summary.extracted} extracted (${formatBytes(summary.bytesWritten)} written)`
  const lines = [`${summary.seen} ${summary.seen === 1 ? 'member' : 'members'} seen, ${summary.matched} selected, ${extracted}`]
  if (summary.skipped > 0) {
    const why = Object.entries(summary.skippedBy).map(([code, count]) => `${code} ${count}`).join(', ')
    lines.push(`${summary.skipped} skipped: ${why}`)
  }
  lines.push(`read ${formatBytes(run.bytesRead)} of tarball in ${run.seconds.toFixed(1)} s`)
  return lines.join('\n')
}
