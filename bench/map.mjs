#!/usr/bin/env node
/*
 * `pcapkit map` against capinfos and cat on the bench dataset (bench/make-dataset.ts builds it on first use), in one
 * run. Every command runs once to warm the page cache, then `--runs` times (rounds interleave the commands so drift
 * hits all alike); the best time counts.
 *
 *   map        pcapkit map DATASET --dump-json TMP --force, on all cores and with --file-workers 1 (per-core rate);
 *              with and without --no-index when map has that flag
 *   capinfos   the same facts map reports, one process per file, as many at a time as map has workers (a queue,
 *              as map's worker pool), so both use every core
 *   cat        cat FILES > /dev/null: the cost of just reading the bytes, one process
 *
 * Targets: map at least 2x capinfos' throughput, and at least half of cat's. Needs a build (npx tsc -p .).
 *
 *   node bench/map.mjs [--runs 3] [--size-gb 2.2]
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {availableParallelism, loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'
import {CLI, DATASET, HERE, ROOT, describeDataset, run} from './harness.mjs'

/** map's outputs (the JSON and, when map builds one, the index beside it) go here and are removed before each run. */
const OUT_DIR = mkdtempSync(join(tmpdir(), 'pcapkit-bench-map-'))
const JSON_OUT = join(OUT_DIR, 'dataset.json')
const CORES = availableParallelism()
/** The facts map reports: packets, sizes, snaplen, link type, first/last, duration, rate, time order. */
const CAPINFOS_FIELDS = ['-M', '-T', '-r', '-c', '-s', '-d', '-l', '-E', '-a', '-e', '-u', '-x', '-o', '-S']

const {values: opts} = parseArgs({options: {runs: {type: 'string', default: '3'}, 'size-gb': {type: 'string', default: '2.2'}}})
const RUNS = Number(opts.runs)

/** Runs `cmd file` for every file, `lanes` at a time, each lane taking the next file when it finishes one. */
async function perFile(cmd, args, files, lanes) {
  let next = 0
  await Promise.all(Array.from({length: lanes}, async () => {
    while (next < files.length) await run(cmd, [...args, files[next++]])
  }))
}

function ensureDataset() {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(HERE, 'make-dataset.ts'), '--size-gb', opts['size-gb']], {stdio: 'inherit', cwd: ROOT})
  if (r.status !== 0) throw new Error('building the dataset failed')
  return describeDataset()
}

function mapCase(name, extra, expectPackets) {
  return {
    name,
    async run() {
      for (const f of readdirSync(OUT_DIR)) rmSync(join(OUT_DIR, f), {recursive: true, force: true})
      await run(process.execPath, [CLI, 'map', DATASET, '--dump-json', JSON_OUT, '--force', ...extra])
      // A fast map that miscounts is no result: check it saw every packet.
      const got = JSON.parse(readFileSync(JSON_OUT, 'utf8')).packets
      if (got !== expectPackets) throw new Error(`${name}: counted ${got} packets, the dataset has ${expectPackets}`)
    },
  }
}

function version(cmd, args) {
  return spawnSync(cmd, args).stdout?.toString().split('\n')[0] ?? '?'
}

async function main() {
  if (!existsSync(join(ROOT, 'dist/commands/map.js'))) throw new Error('build first: npx tsc -p .')
  const data = ensureDataset()
  const hasNoIndex = /--(\[no-\]|no-)index\b/.test(spawnSync(process.execPath, [CLI, 'map', '--help']).stdout.toString())
  const indexVariants = hasNoIndex ? [[' +index', []], [' --no-index', ['--no-index']]] : [['', []]]
  const cases = [
    ...indexVariants.flatMap(([label, flag]) => [
      mapCase(`map (${CORES} workers)${label}`, flag, data.packets),
      mapCase(`map --file-workers 1${label}`, ['--file-workers', '1', ...flag], data.packets),
    ]),
    {name: `capinfos (${CORES} at a time)`, run: () => perFile('capinfos', CAPINFOS_FIELDS, data.files, CORES)},
    {name: 'cat > /dev/null', run: () => run('cat', data.files)},
  ]

  console.log(`\n${data.files.length} files, ${(data.bytes / 1e6).toFixed(0)} MB, ${data.packets} packets; ${CORES} cores; ` +
    `node ${process.version}; ${version('capinfos', ['--version'])}`)
  console.log(`capinfos ${CAPINFOS_FIELDS.join(' ')} FILE, one process per file, ${CORES} at a time`)
  console.log(`warm-up, then best of ${RUNS}${hasNoIndex ? '' : ' (map has no --no-index flag: timed as it is)'}\n`)
  // Other work on the machine skews every figure: say how busy it was.
  const loadBefore = loadavg()[0]
  const best = new Map(cases.map((c) => [c.name, Infinity]))
  for (let round = 0; round <= RUNS; round++) {
    for (const c of cases) {
      const t0 = performance.now()
      await c.run()
      const s = (performance.now() - t0) / 1000
      if (round > 0) best.set(c.name, Math.min(best.get(c.name), s))
      process.stderr.write(`${round === 0 ? 'warm' : `run ${round}`}  ${c.name}: ${s.toFixed(2)} s\n`)
    }
  }

  const mbps = (name) => data.bytes / 1e6 / best.get(name)
  const rows = cases.map((c) => [c.name, best.get(c.name).toFixed(2), mbps(c.name).toFixed(0),
    (data.packets / 1e6 / best.get(c.name)).toFixed(2)])
  const head = ['command', 'seconds', 'MB/s', 'Mpkt/s']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (r) => r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ')
  console.log(`\nload average (1 min) ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after, on ${CORES} cores`)
  console.log(`\n${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`)

  // The targets are for the job capinfos also does (metadata), i.e. --no-index; the index build has its own
  // target (MB/s per core), which bench/query.mjs judges.
  const capinfos = cases.find((c) => c.name.startsWith('capinfos')).name
  for (const [label] of indexVariants) {
    const map = `map (${CORES} workers)${label}`
    const vsCapinfos = mbps(map) / mbps(capinfos)
    const vsCat = mbps(map) / mbps('cat > /dev/null')
    const judged = !label.includes('+index')
    const verdict = (met) => (judged ? (met ? 'met' : 'MISSED') : 'not judged: the index build')
    console.log(`${map}: ${vsCapinfos.toFixed(2)}x capinfos (target >= 2: ${verdict(vsCapinfos >= 2)}), ` +
      `${(vsCat * 100).toFixed(0)}% of cat (target >= 50%: ${verdict(vsCat >= 0.5)})`)
  }
}

try {
  await main()
} finally {
  rmSync(OUT_DIR, {recursive: true, force: true})
}
