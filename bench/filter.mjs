#!/usr/bin/env node
/*
 * `pcapkit filter` with 8 rules in one pass against 8 `tcpdump -r FILE -w OUT EXPR` passes (one per rule, each over
 * every file, files run as many at a time as filter has workers), on the bench dataset, in one run; then
 * `filter --dedup` throughput. Needs a build (npx tsc -p .) and the dataset (bench/make-dataset.ts, see map.mjs).
 *
 *   node bench/filter.mjs [--workers N] [--runs 3]
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {availableParallelism, tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const HERE = dirname(fileURLToPath(import.meta.url))
const CLI = join(resolve(HERE, '..'), 'bin/run.js')
const DATASET = join(HERE, 'data/dataset')
const {values: opts} = parseArgs({options: {
  workers: {type: 'string', default: String(Math.min(8, availableParallelism()))},
  runs: {type: 'string', default: '3'},
}})
const WORKERS = Number(opts.workers)
const RUNS = Number(opts.runs)
// Filters on which pcapkit and tcpdump agree (no VLAN/MPLS qualifiers; the dataset's VLAN-tagged frames are matched
// by neither side's IP tests the same way, so outputs are not compared here: test/filter-command.test.ts does that).
const RULES = {
  web: 'tcp port 80 or tcp port 443', dns: 'udp port 53', icmp: 'icmp or icmp6', modbus: 'tcp port 502',
  lan: 'net 192.168.0.0/16 and not port 22', small: 'less 128', v6: 'ip6', syn: 'tcp and host 192.168.88.61',
}

function run(cmd, args) {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, {stdio: ['ignore', 'ignore', 'pipe']})
    let err = ''
    child.stderr.on('data', (d) => { err += d })
    child.on('close', (code) => (code === 0 ? res() : rej(new Error(`${cmd} exited ${code}: ${err.slice(0, 500)}`))))
  })
}

function captures(dir) {
  return readdirSync(dir, {withFileTypes: true}).flatMap((e) => (e.isDirectory() ? captures(join(dir, e.name)) : /\.pcap$/.test(e.name) ? [join(dir, e.name)] : []))
}

/** Each timing starts with no dirty pages left by the one before (both tools' outputs are written back alike). */
async function timed(fn) {
  await run('sync', [])
  const t0 = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - t0) / 1e9
}

const files = captures(DATASET)
const bytes = files.reduce((n, f) => n + statSync(f).size, 0)
const tmp = mkdtempSync(join(tmpdir(), 'pcapkit-bench-filter-'))
try {
  const rules = join(tmp, 'rules.yaml')
  writeFileSync(rules, Object.entries(RULES).map(([n, e]) => `${n}: {expr: "${e}"}`).join('\n'))
  await run('cat', files) // warm the page cache
  // Rounds alternate the two sides so that disk writeback and load from elsewhere hit both alike; best of each.
  let ours = Infinity
  let theirs = Infinity
  for (let round = 1; round <= RUNS; round++) {
    const o = await timed(() => run(process.execPath, [CLI, 'filter', DATASET, '--rules', rules, '-o', join(tmp, 'ours'), '--workers', String(WORKERS)]))
    rmSync(join(tmp, 'ours'), {recursive: true, force: true})
    const t = await timed(async () => {
      const jobs = Object.entries(RULES).flatMap(([name, expr]) => files.map((f, i) => ['tcpdump', ['-r', f, '-w', join(tmp, `td-${name}-${i}.pcap`), expr]]))
      let next = 0
      await Promise.all(Array.from({length: WORKERS}, async () => {
        while (next < jobs.length) await run(...jobs[next++])
      }))
    })
    for (const f of readdirSync(tmp)) if (f.startsWith('td-')) rmSync(join(tmp, f))
    console.log(`round ${round}: pcapkit ${o.toFixed(2)} s, tcpdump ${t.toFixed(2)} s`)
    ours = Math.min(ours, o)
    theirs = Math.min(theirs, t)
  }
  const dedup = await timed(() => run(process.execPath, [CLI, 'filter', DATASET, '--rules', rules, '-o', join(tmp, 'dedup'), '--dedup', '--workers', String(WORKERS)]))
  const oneWorkerDedup = await timed(() => run(process.execPath, [CLI, 'filter', files[0], '--rules', rules, '-o', join(tmp, 'dedup1'), '--dedup', '--workers', '1']))
  const oneWorker = await timed(() => run(process.execPath, [CLI, 'filter', files[0], '--rules', rules, '-o', join(tmp, 'plain1'), '--workers', '1']))
  const mb = bytes / 1e6
  const first = statSync(files[0]).size / 1e6
  console.log(`dataset: ${files.length} files, ${mb.toFixed(0)} MB, ${WORKERS} workers / tcpdump lanes, best of ${RUNS}`)
  console.log(`pcapkit filter, 8 rules, one pass: ${ours.toFixed(2)} s (${(mb / ours).toFixed(0)} MB/s)`)
  console.log(`tcpdump -r -w, 8 passes:            ${theirs.toFixed(2)} s (${(mb / theirs).toFixed(0)} MB/s of dataset)`)
  console.log(`ratio: pcapkit ${(theirs / ours).toFixed(2)}x faster (target >= 3x)`)
  console.log(`filter --dedup, 8 rules:            ${dedup.toFixed(2)} s (${(mb / dedup).toFixed(0)} MB/s)`)
  console.log(`one file, one worker: ${(first / oneWorker).toFixed(0)} MB/s without dedup, ${(first / oneWorkerDedup).toFixed(0)} MB/s with --dedup`)
} finally {
  rmSync(tmp, {recursive: true, force: true})
}
