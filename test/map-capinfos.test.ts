// `map` against capinfos on every shared capture and the tcpdump corpus: packets, data size, first/last time.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {basename, join} from 'node:path'
import {CORPUS, HAVE_SHARED, SHARED, capturesIn, hasTool, runCli} from './helpers.js'
import type {DatasetMeta, FileMeta} from '../src/dataset/metadata.js'

interface CapinfosRow {packets: number; dataSize: number; first: string; last: string}

/** capinfos -M -T -r -c -d -a -e -S over many files at once: one tab row per file it could read. */
function capinfos(files: string[]): {rows: Map<string, CapinfosRow>; stderr: string} {
  const rows = new Map<string, CapinfosRow>()
  let stderr = ''
  for (let i = 0; i < files.length; i += 200) {
    const r = spawnSync('capinfos', ['-M', '-T', '-r', '-c', '-d', '-a', '-e', '-S', ...files.slice(i, i + 200)], {maxBuffer: 1 << 26})
    stderr += r.stderr.toString()
    for (const line of r.stdout.toString().split('\n')) {
      const [name, packets, dataSize, first, last] = line.split('\t')
      if (last === undefined) continue
      rows.set(name, {packets: Number(packets), dataSize: Number(dataSize), first, last})
    }
  }
  return {rows, stderr}
}

/** Our exact "sec.nnnnnnnnn" cut to the digits capinfos printed (it shows the file's precision). */
function sameTime(ours: string | null, theirs: string): boolean {
  if (theirs === 'n/a') return ours === null
  const [sec, frac = ''] = theirs.split('.')
  const [osec, ofrac] = (ours ?? '').split('.')
  return sec === osec && ofrac.slice(0, frac.length) === frac
}

const PRECISION_DIGITS: Record<string, number> = {us: 6, ns: 9}

/**
 * Where capinfos and we differ on purpose, the reason; null where the times must agree. capinfos (wiretap) reads
 * seconds as signed 32-bit and keeps invalid fractions (>= 1 s) as they are; we read seconds unsigned as libpcap
 * does (so 2038+ stays 2038+) and carry invalid fractions into the seconds.
 */
function timeDifference(m: FileMeta, row: CapinfosRow): string | null {
  if (row.first === 'n/a' && m.no_timestamp > 0) return 'capinfos shows no times when any record lacks one (SPB)'
  const digits = PRECISION_DIGITS[m.ts_precision] ?? 9
  const bad = [row.first, row.last].some((t) => (t.split('.')[1] ?? '').replace('-', '').length > digits || t.includes('.-'))
  if (bad) return 'invalid timestamp fraction (>= 1 s)'
  if (Number((m.end_epoch ?? '0').split('.')[0]) >= 2 ** 31 && m.packets > 1) return 'seconds >= 2^31: capinfos compares them signed'
  return null
}

/** SunATM (123) records carry a 4-byte pseudo-header that wiretap strips from the lengths it reports. */
function expectedDataSize(m: FileMeta): number {
  return m.link_types.some((l) => l.id === 123) ? m.data_size - 4 * m.packets : m.data_size
}

/** Fuzzed files on which wiretap's heuristics pick a modified-pcap variant with other record headers. */
const WIRETAP_GUESSES_VARIANT = new Set(['atm-oam-loopback-print-overrun.pcap'])

test('map agrees with capinfos on packets, data size and first/last time', {skip: !HAVE_SHARED || !hasTool('capinfos')}, () => {
  const files = [...capturesIn(SHARED), ...capturesIn(CORPUS)]
  assert.ok(files.length > 800, `expected the shared captures, found ${files.length}`)
  const r = runCli(['map', '--json', SHARED, CORPUS])
  assert.ok(r.status === 0 || r.status === 1, `map crashed: ${r.status} ${r.stderr}`)
  const meta: DatasetMeta = JSON.parse(r.stdout.toString())
  const ours = new Map<string, FileMeta>(meta.files.map((f) => [f.path, f]))
  const ref = capinfos(files)
  let compared = 0
  const mismatches: string[] = []
  const skippedTimes: string[] = []
  for (const file of files) {
    const m = ours.get(file)
    assert.ok(m, `map left out ${file}`)
    const row = ref.rows.get(file)
    if (!row) {
      // capinfos rejects it: we either read it or say clearly why not, naming the file.
      if (m.error) assert.match(m.error, new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      continue
    }
    if (WIRETAP_GUESSES_VARIANT.has(basename(file))) continue
    compared++
    const got = `${m.packets} ${m.data_size} ${m.beginning_epoch} ${m.end_epoch}`
    const timesDiffer = timeDifference(m, row)
    if (timesDiffer) skippedTimes.push(`${basename(file)}: ${timesDiffer}`)
    const timesAgree = timesDiffer !== null || (sameTime(m.beginning_epoch, row.first) && sameTime(m.end_epoch, row.last))
    if (m.packets !== row.packets || expectedDataSize(m) !== row.dataSize || !timesAgree) {
      mismatches.push(`${file}: ours ${got}, capinfos ${row.packets} ${row.dataSize} ${row.first} ${row.last}`)
    }
  }
  assert.deepEqual(mismatches, [])
  assert.ok(compared > 800, `compared only ${compared} files`)
  assert.ok(skippedTimes.length < 20, `too many time comparisons skipped: ${skippedTimes.join('; ')}`)
})

test('map reports a clear per-file error for files capinfos rejects as damaged', {skip: !HAVE_SHARED}, () => {
  const bad = ['libpcap__pcap-invalid-version-1.pcap', 'libpcap__shb-option-too-long.pcapng', 'sv__tls_DER-incomplete-header.pcap']
  const r = runCli(['map', '--json', ...bad.map((b) => join(SHARED, b))])
  assert.equal(r.status, 1)
  const meta: DatasetMeta = JSON.parse(r.stdout.toString())
  for (const f of meta.files) assert.match(f.error ?? '', /at byte offset \d+/)
  // Records before the damage are still counted (capinfos: 6 packets before the absurd length).
  assert.equal(meta.files.find((f) => f.path.endsWith('sv__tls_DER-incomplete-header.pcap'))!.packets, 6)
  assert.match(r.stderr.toString(), /sv__tls_DER-incomplete-header\.pcap: record caplen 4325376/)
})
