#!/usr/bin/env node
/*
 * `pcapkit replay` against `tcpreplay` on the same capture and the same veth, in one run. Everything happens in a
 * network namespace created for the run (a veth pair va↔vb with both ends inside it), deleted at the end: nothing
 * in the root namespace is touched. Needs root, `ip netns`, tcpreplay, tcpdump and a build (npx tsc -p .).
 *
 *   topspeed   both tools send the capture --loops times as fast as they can on va, --rounds times in turn (so
 *              load from elsewhere hits both alike); the best packets per second of each (as each reports it) and
 *              the ratio; vb's kernel counters show what arrived. Target: ratio ≥ 1.0. For reference, cap.send
 *              alone in a tight loop over preloaded frames: the ceiling of the binding's one-call-per-frame send.
 *   1x         both tools replay the capture once at its original speed while tcpdump (ns timestamps) records vb;
 *              from the receiving end's timestamps: per-gap error |Δrecv − Δorig| p50/p99/max, and end-to-end
 *              drift (recv span − orig span) / orig span. Targets: p99 ≤ 50 µs, drift ≤ 0.01 %.
 *
 * The load average is printed first: on a busy machine both tools get preempted and timing figures mean little.
 *
 *   node bench/replay.mjs [--capture FILE] [--loops 10] [--rounds 3]
 */
import {spawn, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {CaptureReader} from '../dist/pcap/reader.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const CLI = join(ROOT, 'bin/run.js')
const {values: opts} = parseArgs({options: {
  capture: {type: 'string', default: resolve(ROOT, '../shared/pcaps/zeek__echo-connections.pcap')},
  loops: {type: 'string', default: '10'},
  rounds: {type: 'string', default: '3'},
}})
const NS = `pk-bench-${randomBytes(4).toString('hex')}`
const TMP = mkdtempSync(join(tmpdir(), 'pcapkit-bench-replay-'))

function sh(args, {check = true} = {}) {
  const r = spawnSync(args[0], args.slice(1), {maxBuffer: 1 << 26})
  if (check && r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`)
  return r
}
const inNs = (args, o) => sh(['ip', 'netns', 'exec', NS, ...args], o)

function setUp() {
  sh(['ip', 'netns', 'add', NS])
  inNs(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'])
  inNs(['ip', 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', NS])
  inNs(['ip', 'link', 'set', 'va', 'up'])
  inNs(['ip', 'link', 'set', 'vb', 'up'])
}

function tearDown() {
  spawnSync('ip', ['netns', 'del', NS])
  rmSync(TMP, {recursive: true, force: true})
}

/** Packets vb has received so far (its kernel counter). */
function received() {
  return JSON.parse(inNs(['ip', '-j', '-s', 'link', 'show', 'vb']).stdout)[0].stats64.rx.packets
}

async function readFrames(path) {
  const reader = await CaptureReader.open(path)
  const frames = []
  await reader.forEach((r) => frames.push({data: Buffer.from(r.buf.subarray(r.dataStart, r.dataStart + r.caplen)), ns: BigInt(r.tsSec) * 1000000000n + BigInt(r.tsNsec)}))
  await reader.close()
  return frames
}

/** Starts tcpdump on vb; resolves once it listens. stop() ends it once `count` frames arrived or after a grace. */
async function capture(file, count) {
  const c = spawn('ip', ['netns', 'exec', NS, 'tcpdump', '-i', 'vb', '-Q', 'in', '--immediate-mode', '-U', '-n',
    '--time-stamp-precision=nano', '-s', '256', '-B', '262144', '-c', String(count), '-w', file], {stdio: ['ignore', 'ignore', 'pipe']})
  let err = ''
  await new Promise((res, rej) => {
    c.stderr.on('data', (d) => {
      err += d
      if (err.includes('listening on')) res()
    })
    c.once('exit', () => rej(new Error(`tcpdump: ${err}`)))
  })
  return {
    stop: () => new Promise((res) => {
      if (c.exitCode !== null) return res()
      const grace = setTimeout(() => c.kill('SIGINT'), 3000)
      c.once('exit', () => {
        clearTimeout(grace)
        res()
      })
    }),
  }
}

function ours(args) {
  const r = inNs([process.execPath, CLI, 'replay', '--json', '-i', 'va', ...args])
  return JSON.parse(r.stdout)
}

/** cap.send in a tight loop over the capture's frames, preloaded: what the binding allows with no replay around it. */
const CAP_ONLY = `
import {createRequire} from 'node:module'
import {CaptureReader} from ${JSON.stringify(join(ROOT, 'dist/pcap/reader.js'))}
const {Cap} = createRequire(${JSON.stringify(join(ROOT, 'package.json'))})('cap')
const [file, loops] = process.argv.slice(1)
const reader = await CaptureReader.open(file)
const frames = []
await reader.forEach((r) => frames.push(Buffer.from(r.buf.subarray(r.dataStart, r.dataStart + r.caplen))))
const cap = new Cap()
cap.open('va', 'less 1', 1 << 20, Buffer.alloc(65536))
const start = performance.now()
for (let l = 0; l < Number(loops); l++) for (const f of frames) cap.send(f, f.length)
console.log(Math.round(frames.length * Number(loops) / (performance.now() - start) * 1000))
cap.close()
`

function capOnly(loops) {
  return Number(inNs([process.execPath, '--input-type=module', '-e', CAP_ONLY, opts.capture, String(loops)]).stdout)
}

function tcpreplay(args) {
  const out = inNs(['tcpreplay', '-i', 'va', ...args]).stdout.toString()
  const pps = /Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/.exec(out)
  return {pps: pps ? Number(pps[1]) : NaN, out}
}

/**
 * Matches the frames that arrived to the original ones in order (a lost frame is skipped) and measures, over
 * consecutive matched pairs, |Δrecv − Δorig|, plus the drift of the whole span.
 */
function timing(original, peer) {
  const errors = []
  let j = 0
  let prev = null
  let first = null
  let last = null
  for (const f of peer) {
    while (j < original.length && !original[j].data.subarray(0, f.data.length).equals(f.data)) j++
    if (j === original.length) break
    const match = {recv: f.ns, orig: original[j].ns}
    if (prev) errors.push(Math.abs(Number((match.recv - prev.recv) - (match.orig - prev.orig))) / 1e3)
    first ??= match
    last = match
    prev = match
    j++
  }
  errors.sort((a, b) => a - b)
  const q = (p) => errors[Math.min(errors.length - 1, Math.floor(p * errors.length))]
  const origSpan = Number(last.orig - first.orig)
  return {matched: errors.length + 1, p50: q(0.5), p99: q(0.99), max: errors[errors.length - 1],
    driftPct: (Number(last.recv - first.recv) - origSpan) / origSpan * 100}
}

async function atOriginalSpeed(name, original, replay) {
  const file = join(TMP, `${name}.pcap`)
  const cap = await capture(file, original.length)
  const extra = replay()
  await cap.stop()
  return {...timing(original, await readFrames(file)), ...extra}
}

const fmt = (x, d = 1) => x.toFixed(d)

async function main() {
  if (process.getuid() !== 0) throw new Error('run as root (network namespaces)')
  for (const tool of ['tcpreplay', 'tcpdump']) if (sh(['sh', '-c', `command -v ${tool}`], {check: false}).status !== 0) throw new Error(`${tool} is not installed`)
  setUp()
  const original = await readFrames(opts.capture)
  console.log(`capture: ${opts.capture} (${original.length} frames, ${fmt(Number(original.at(-1).ns - original[0].ns) / 1e9, 3)} s)`)

  console.log(`load average: ${loadavg().map((l) => fmt(l, 2)).join(' ')} on ${sh(['nproc']).stdout.toString().trim()} CPUs`)

  const loops = Number(opts.loops)
  const best = {tcpreplay: {pps: 0}, pcapkit: {pps: 0}, capOnly: 0}
  const arrived = (fn) => {
    const before = received()
    const r = fn()
    return {...r, arrived: received() - before}
  }
  for (let round = 0; round < Number(opts.rounds); round++) {
    const t = arrived(() => tcpreplay(['--topspeed', `--loop=${loops}`, opts.capture]))
    const o = arrived(() => {
      const report = ours([opts.capture, '--topspeed', '--loop-count', String(loops)])
      return {pps: report.pps, failed: report.packets.failed, retries: report.packets.retries}
    })
    const c = capOnly(loops)
    console.log(`  round ${round + 1}: tcpreplay ${fmt(t.pps, 0)} pps, pcapkit ${o.pps} pps, cap.send alone ${c} pps`)
    best.capOnly = Math.max(best.capOnly, c)
    if (t.pps > best.tcpreplay.pps) best.tcpreplay = t
    if (o.pps > best.pcapkit.pps) best.pcapkit = o
  }
  const {tcpreplay: t, pcapkit: o} = best
  console.log(`topspeed, ${original.length * loops} frames (${loops} loops), best of ${opts.rounds}:`)
  console.log(`  tcpreplay  ${fmt(t.pps, 0)} pps   (vb received ${t.arrived})`)
  console.log(`  pcapkit    ${o.pps} pps   (vb received ${o.arrived}, failed ${o.failed}, retries ${o.retries})`)
  console.log(`  ratio      ${fmt(o.pps / t.pps, 2)}   (target ≥ 1.0)`)
  console.log(`  cap.send alone, no replay around it: ${best.capOnly} pps (${fmt(best.capOnly / t.pps, 2)} of tcpreplay)`)

  const tx = await atOriginalSpeed('tcpreplay', original, () => (tcpreplay([opts.capture]), {}))
  const ox = await atOriginalSpeed('pcapkit', original, () => ({lateness: ours([opts.capture]).lateness_us}))
  console.log(`\n1x, measured on vb (µs):  gap error p50 / p99 / max     drift`)
  for (const [n, r] of [['tcpreplay', tx], ['pcapkit', ox]]) {
    console.log(`  ${n.padEnd(10)} ${fmt(r.p50).padStart(8)} / ${fmt(r.p99).padStart(8)} / ${fmt(r.max).padStart(9)}   ${fmt(r.driftPct, 5)} %   (${r.matched}/${original.length} frames arrived)`)
  }
  console.log(`  targets       p99 ≤ 50 µs, drift ≤ 0.01 %`)
  console.log(`  pcapkit's own lateness report (µs): ${JSON.stringify(ox.lateness)}`)
}

try {
  await main()
} finally {
  tearDown()
}
