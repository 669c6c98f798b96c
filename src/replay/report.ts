/** The human-readable form of a replay report (the --json form is the report object itself). */
import type {ReplayReport} from './stats.js'

export function formatReport(r: ReplayReport): string {
  const p = r.packets
  const skipped = [
    p.oversize && `${p.oversize} over the size limit`,
    p.outside_window && `${p.outside_window} outside the time window`,
    p.filtered && `${p.filtered} filtered out`,
    p.wrong_link_type && `${p.wrong_link_type} of a link type the output does not carry`,
    r.packets.out_of_order_action === 'skipped' && p.out_of_order && `${p.out_of_order} out of order`,
  ].filter(Boolean)
  const lines = [
    `output:       ${r.output}`,
    `files:        ${r.files.replayed} replayed` + (r.files.outside_window ? `, ${r.files.outside_window} outside the time window` : '')
      + (r.files.skipped.length ? `, ${r.files.skipped.length} skipped (unreadable)` : ''),
    `loops:        ${r.loops}${r.interrupted ? ' (interrupted)' : ''}`,
    `packets:      ${p.sent} sent of ${p.read} read, ${p.failed} failed` + (p.retries ? ` (${p.retries} retries)` : ''),
    `skipped:      ${skipped.length ? skipped.join(', ') : 'none'}`,
  ]
  if (p.truncated) lines.push(`truncated:    ${p.truncated} cut to the size limit and sent`)
  if (p.out_of_order && r.packets.out_of_order_action === 'sent') lines.push(`out of order: ${p.out_of_order} (sent at once)`)
  lines.push(`rate:         ${r.pps} pps, ${r.mbps} Mbps, ${r.bytes} bytes`)
  lines.push(`elapsed:      ${r.elapsed_s} s` + (r.expected_s === null ? ' (top speed)' : ` (schedule: ${r.expected_s} s)`))
  if (r.lateness_us) {
    const l = r.lateness_us
    lines.push(`lateness:     p50 ${l.p50} µs, p99 ${l.p99} µs, max ${l.max} µs`)
  }
  for (const [message, count] of Object.entries(r.send_errors)) lines.push(`send error:   ${message} (${count}×)`)
  return lines.join('\n')
}
