// A small, fixed sample of the reader fuzzer (bench/fuzz-reader.ts): damaged captures must end in a CaptureError or a
// named gzip error, never a crash or a hang. The full run is `node --import tsx bench/fuzz-reader.ts`.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {CORPUS, HAVE_SHARED, SHARED, TESTDATA, capturesIn} from './helpers.js'
import {runFuzz, type FuzzFailure} from '../bench/fuzz-reader.js'

function describe(failures: FuzzFailure[]): string {
  return failures.map((f) => `case ${f.case} (seed ${f.seed}) on ${f.file}: ${f.mutations.join('; ')}: ${f.error}`).join('\n')
}

test('the reader survives 500 mutated captures without crashing or hanging', {timeout: 60_000}, async () => {
  // Without the shared captures the project's own testdata still gives pcap, pcapng and gzip seeds.
  const files = [...(HAVE_SHARED ? [...capturesIn(SHARED), ...capturesIn(CORPUS)] : []), ...capturesIn(TESTDATA)]
  const report = await runFuzz({cases: 500, seed: 20240229, files, timeoutMs: 5000})
  assert.equal(report.crashes.length, 0, `crashes:\n${describe(report.crashes)}`)
  assert.equal(report.hangs.length, 0, `hangs:\n${describe(report.hangs)}`)
  // The sample must reach past the file headers, or it proves nothing.
  assert.ok(report.records > 0 && report.clean > 0, 'no case read any record')
  assert.ok(Object.keys(report.errorsByKind).length >= 3, `too few kinds of damage reached: ${JSON.stringify(report.errorsByKind)}`)
})
