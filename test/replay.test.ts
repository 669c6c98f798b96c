// `replay`: merge order, time windows, size limits and flag checks through --out-file (no privileges needed), and
// real sending, timing, speed, fitting and loops onto a veth pair that lives entirely inside a throwaway network
// namespace (both ends inside it; nothing in the root namespace is ever touched).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {HAVE_SHARED, ROOT, SHARED, TESTDATA, hasTool, runCli, tempDir} from './helpers.js'
import {CaptureReader} from '../src/pcap/reader.js'
import {AtomicFileSink, PcapWriter} from '../src/pcap/writer.js'
import {DurationHistogram} from '../src/replay/histogram.js'
import {Pacer} from '../src/replay/pacer.js'
import type {ReplayReport} from '../src/replay/stats.js'

interface Frame {
  data: Buffer
  sec: number
  nsec: number
  origLen: number
  linkType: number
}

async function readFrames(path: string): Promise<Frame[]> {
  const reader = await CaptureReader.open(path)
  const frames: Frame[] = []
  try {
    await reader.forEach((r) => frames.push({
      data: Buffer.from(r.buf.subarray(r.dataStart, r.dataStart + r.caplen)),
      sec: r.tsSec, nsec: r.tsNsec, origLen: r.origLen, linkType: r.linkType,
    }))
  } finally {
    await reader.close()
  }
  return frames
}

async function writeFrames(path: string, frames: Frame[], nsec = true): Promise<void> {
  const w = new PcapWriter(new AtomicFileSink(path), frames[0]?.linkType ?? 1, 262144, nsec)
  for (const f of frames) {
    await w.write({buf: f.data, dataStart: 0, caplen: f.data.length, origLen: f.origLen, tsSec: f.sec, tsNsec: f.nsec, linkType: f.linkType})
  }
  await w.close()
}

const seconds = (f: Frame): number => f.sec + f.nsec / 1e9
const epoch = (f: Frame): string => `${f.sec}.${String(f.nsec).padStart(9, '0')}`
const key = (f: Frame): string => `${epoch(f)} ${f.data.toString('hex')}`
const byTime = (a: Frame, b: Frame): number => a.sec - b.sec || a.nsec - b.nsec

/** A broadcast frame of an experimental ethertype carrying `seq`, `size` bytes long: no stack reacts to it. */
function probeFrame(seq: number, ns: number, size = 60): Frame {
  const data = Buffer.alloc(size)
  data.fill(0xff, 0, 6)
  data.set([0x02, 0, 0, 0, 0, 0x01], 6)
  data.writeUInt16BE(0x88b5, 12)
  data.writeUInt32BE(seq, 14)
  return {data, sec: 1_700_000_000 + Math.floor(ns / 1e9), nsec: ns % 1e9, origLen: size, linkType: 1}
}

/** Frames whose gaps run from 0.1 ms to 250 ms (sub-ms included), `rounds` times over; scaled to `scale`. */
function variedGaps(rounds: number, scale = 1): Frame[] {
  const gapsMs = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 250]
  const frames = [probeFrame(0, 0)]
  let ns = 0
  for (let r = 0; r < rounds; r++) {
    for (const g of gapsMs) {
      ns += Math.round(g * scale * 1e6)
      frames.push(probeFrame(frames.length, ns))
    }
  }
  return frames
}

function replayJson(args: string[]): {report: ReplayReport; status: number | null; stderr: string} {
  const r = runCli(['replay', '--json', ...args])
  const stderr = r.stderr.toString()
  assert.ok(r.stdout.length > 0, `replay printed no report (status ${r.status}): ${stderr}`)
  return {report: JSON.parse(r.stdout.toString()), status: r.status, stderr}
}

const SPLIT_SOURCE = join(SHARED, 'tcpreplay__test.pcap')

/**
 * The records of one shared capture dealt round-robin into `n` files: n interleaved per-worker sequences. The
 * merge must give them back in time order; records with equal timestamps come in file order (documented).
 */
async function splitRoundRobin(dir: string, n: number): Promise<{original: Frame[]; merged: Frame[]; files: string[]}> {
  const original = await readFrames(SPLIT_SOURCE)
  const files = Array.from({length: n}, (_, i) => join(dir, `worker-${i}.pcap`))
  const perFile = files.map((_, i) => original.filter((__, j) => j % n === i))
  for (let i = 0; i < n; i++) await writeFrames(files[i], perFile[i], false)
  return {original, merged: perFile.flat().sort(byTime), files}
}

test('Pacer: due times come from the anchor alone, for timestamps, packet rates and bit rates', () => {
  const timeline = new Pacer({kind: 'timeline', speed: 2.7})
  timeline.anchor(1000, 1_700_000_000, 999_999_000)
  // 2.7 s later in capture time (across a second boundary) is due 1 s after the anchor.
  assert.ok(Math.abs(timeline.dueMs(1_700_000_003, 699_999_000, 60) - 2000) < 1e-9)
  assert.equal(timeline.dueMs(-Infinity, 0, 60), -Infinity, 'a record without a timestamp goes at once')
  const pps = new Pacer({kind: 'pps', pps: 4})
  pps.anchor(0, 0, 0)
  assert.deepEqual([0, 1, 2].map(() => pps.dueMs(0, 0, 60)), [0, 250, 500])
  const mbps = new Pacer({kind: 'mbps', mbps: 0.008}) // 1 byte per ms
  mbps.anchor(0, 0, 0)
  assert.deepEqual([100, 50, 10].map((bytes) => mbps.dueMs(0, 0, bytes)), [0, 100, 150])
  assert.equal(new Pacer({kind: 'topspeed'}).dueMs(5, 0, 60), -Infinity)
})

test('DurationHistogram: percentiles within 2.2 % without keeping samples', () => {
  const h = new DurationHistogram()
  for (let i = 1; i <= 10000; i++) h.record(i * 1000) // 1 µs .. 10 ms
  for (const [q, want] of [[0.5, 5e6], [0.99, 9.9e6]]) {
    const got = h.quantileNs(q)
    assert.ok(got >= want && got <= want * 1.022, `q${q}: ${got}, want ${want}`)
  }
  assert.equal(h.maxNs, 1e7)
  h.record(0)
  assert.equal(h.quantileNs(0), 0)
})

test('replay --out-file: interleaved files come out as one time-ordered stream, records byte-identical', {skip: !HAVE_SHARED}, async (t) => {
  const dir = tempDir(t)
  const {original, merged} = await splitRoundRobin(dir, 3)
  const out = join(tempDir(t), 'merged.pcap')
  const {report, status} = replayJson([dir, '--topspeed', '--keep-timestamps', '--out-file', out])
  assert.equal(status, 0)
  assert.equal(report.files.replayed, 3)
  assert.equal(report.packets.sent, original.length)
  const got = await readFrames(out)
  assert.deepEqual(got.map(key), merged.map(key))
  assert.deepEqual(got.map((f) => f.origLen), merged.map((f) => f.origLen))
  // The same records as the original capture, which differs only in how it orders records of equal time.
  assert.deepEqual(got.map(key).sort(), original.map(key).sort())
  assert.ok(got.every((f, i) => i === 0 || byTime(got[i - 1], f) <= 0), 'globally sorted')
})

test('replay --dump-json: the metadata written by map names the captures', {skip: !HAVE_SHARED}, async (t) => {
  const dir = tempDir(t)
  const {merged} = await splitRoundRobin(dir, 2)
  writeFileSync(join(dir, 'broken.pcap'), 'not a capture at all')
  const json = join(dir, 'dataset.json')
  assert.equal(runCli(['map', dir, '--dump-json', json]).status, 1) // broken.pcap is reported
  const out = join(dir, 'merged.pcap')
  const {report, status, stderr} = replayJson(['--dump-json', json, '--topspeed', '--keep-timestamps', '-w', out])
  assert.equal(status, 1, 'a skipped file makes the exit status 1')
  assert.equal(report.files.skipped.length, 1)
  assert.match(stderr, /broken\.pcap: not a pcap or pcapng capture/)
  assert.deepEqual((await readFrames(out)).map(key), merged.map(key))
})

test('replay --time-from/--time-to cut at packet granularity (from inclusive, to exclusive)', {skip: !HAVE_SHARED}, async (t) => {
  const dir = tempDir(t)
  const original = await readFrames(SPLIT_SOURCE)
  // Records 20 and 60 have timestamps no other record shares, so the expected cut is unambiguous.
  const [from, to] = [original[20], original[60]]
  assert.equal(original.filter((f) => epoch(f) === epoch(from) || epoch(f) === epoch(to)).length, 2)
  const out = join(dir, 'window.pcap')
  const {report} = replayJson([SPLIT_SOURCE, '--topspeed', '--keep-timestamps', '-w', out, '--time-from', epoch(from), '--time-to', epoch(to)])
  assert.deepEqual((await readFrames(out)).map(key), original.slice(20, 60).map(key))
  assert.equal(report.packets.outside_window, 21) // 20 before; reading stops at the first record at --time-to
  // RFC 3339 with a fraction cuts the same way.
  const rfc = new Date(from.sec * 1000).toISOString().replace('.000Z', `.${String(from.nsec).padStart(9, '0')}Z`)
  replayJson([SPLIT_SOURCE, '--topspeed', '--keep-timestamps', '-w', out, '--time-from', rfc])
  assert.equal((await readFrames(out)).length, original.length - 20)
})

test('replay --out-file stamps replay time: 10x faster keeps the gaps at a tenth', {skip: !HAVE_SHARED}, async (t) => {
  const out = join(tempDir(t), 'fast.pcap')
  const src = join(SHARED, 'zeek__5-pings.pcap')
  const {report} = replayJson([src, '--time-modifier', '10', '-w', out])
  const [a, b] = [await readFrames(src), await readFrames(out)]
  assert.equal(b.length, a.length)
  for (let i = 1; i < a.length; i++) {
    const want = (seconds(a[i]) - seconds(a[i - 1])) / 10
    const got = seconds(b[i]) - seconds(b[i - 1])
    assert.ok(Math.abs(got - want) < 0.02, `gap ${i}: ${got} s, want ${want} s`)
  }
  assert.ok(report.expected_s !== null && Math.abs(report.expected_s - 0.4032) < 0.005, `schedule ${report.expected_s}`)
})

test('replay: frames over --skip-mtu are skipped, or cut with --mtu-trunc, and counted', async (t) => {
  const dir = tempDir(t)
  const src = join(dir, 'sizes.pcap')
  const frames = [probeFrame(0, 0, 100), probeFrame(1, 1e6, 1600), probeFrame(2, 2e6, 9000), probeFrame(3, 3e6, 1514)]
  await writeFrames(src, frames)
  const out = join(dir, 'out.pcap')
  const skipped = replayJson([src, '--topspeed', '--keep-timestamps', '-w', out, '--skip-mtu', '1514']).report
  assert.equal(skipped.packets.oversize, 2)
  assert.equal(skipped.packets.sent, 2)
  assert.deepEqual((await readFrames(out)).map((f) => f.data.length), [100, 1514])
  const cut = replayJson([src, '--topspeed', '--keep-timestamps', '-w', out, '--skip-mtu', '1514', '--mtu-trunc']).report
  assert.equal(cut.packets.truncated, 2)
  assert.equal(cut.packets.sent, 4)
  const got = await readFrames(out)
  assert.deepEqual(got.map((f) => f.data.length), [100, 1514, 1514, 1514])
  assert.deepEqual(got.map((f) => f.origLen), [100, 1600, 9000, 1514])
  assert.deepEqual(got[2].data, frames[2].data.subarray(0, 1514))
})

test('replay: out-of-order records are sent at once by default, dropped with --skip-ooo, counted either way', async (t) => {
  const dir = tempDir(t)
  const src = join(dir, 'ooo.pcap')
  const ms = [1, 2, 5, 3, 4, 6]
  await writeFrames(src, ms.map((m, i) => probeFrame(i, m * 1e6)))
  const out = join(dir, 'out.pcap')
  const seqs = async (): Promise<number[]> => (await readFrames(out)).map((f) => f.data.readUInt32BE(14))
  const sent = replayJson([src, '--topspeed', '--keep-timestamps', '-w', out]).report
  assert.equal(sent.packets.out_of_order, 2)
  assert.deepEqual(await seqs(), [0, 1, 2, 3, 4, 5])
  const dropped = replayJson([src, '--topspeed', '--keep-timestamps', '-w', out, '--skip-ooo']).report
  assert.equal(dropped.packets.out_of_order, 2)
  assert.equal(dropped.packets.out_of_order_action, 'skipped')
  assert.deepEqual(await seqs(), [0, 1, 2, 5])
})

test('replay --loop-count repeats the captures; --loop-delay separates the passes', async (t) => {
  const dir = tempDir(t)
  const src = join(dir, 'short.pcap')
  await writeFrames(src, [0, 10, 20].map((m, i) => probeFrame(i, m * 1e6)))
  const out = join(dir, 'out.pcap')
  const {report} = replayJson([src, '-w', out, '--loop-count', '3', '--loop-delay', '150ms'])
  assert.equal(report.loops, 3)
  const got = await readFrames(out)
  assert.equal(got.length, 9)
  for (const i of [3, 6]) {
    const pause = seconds(got[i]) - seconds(got[i - 1])
    assert.ok(pause >= 0.15 && pause < 0.3, `pause before pass ${i / 3 + 1}: ${pause} s`)
  }
})

test('replay --out-bpf sends exactly the packets `tcpdump -r FILE -w - EXPR` selects', {skip: !HAVE_SHARED || !hasTool('tcpdump')}, async (t) => {
  const dir = tempDir(t)
  // Plain Ethernet/IPv4 captures (no tags or tunnels, where our filter language deliberately differs from tcpdump).
  const inputs = ['zeek__5-pings.pcap', 'zeek__get-to-ssh-server.pcap', 'zeek__tls1.2.pcap', 'gopacket__test_dns.pcap'].map((f) => join(SHARED, f))
  const out = join(dir, 'out.pcap')
  const expressions = ['icmp', 'tcp', 'udp port 53', 'tcp port 22 or icmp', 'not tcp', 'host 172.217.11.78', 'src net 10.0.0.0/8 and tcp']
  for (const expr of expressions) {
    const theirs: Frame[] = []
    for (const [i, input] of inputs.entries()) {
      const selected = join(dir, `tcpdump-${i}.pcap`)
      spawnSync('tcpdump', ['-r', input, '-w', selected, expr])
      theirs.push(...await readFrames(selected))
    }
    const {report, status} = replayJson([...inputs, '--topspeed', '--keep-timestamps', '-w', out, '--out-bpf', expr])
    assert.equal(status, 0)
    assert.ok(theirs.length > 0, `${expr} selects something`)
    assert.deepEqual((await readFrames(out)).map(key), theirs.sort(byTime).map(key), expr)
    assert.equal(report.packets.filtered, report.packets.read - theirs.length, expr)
  }
  const bad = runCli(['replay', inputs[0], '-w', out, '--out-bpf', 'host 10.0.0.1 and ('])
  assert.equal(bad.status, 2)
  assert.match(bad.stderr.toString().replace(/\s*›\s*/g, ' '), /--out-bpf: the expression ends .* at column 20/)
})

test('replay refuses absurd or contradictory flags with a clear message (exit 2)', {skip: !HAVE_SHARED}, () => {
  const src = join(SHARED, 'zeek__5-pings.pcap')
  const cases: [string[], RegExp][] = [
    [[src], /no output: name the interface to send on with --out-interface IF \(there is no default/],
    [[], /nothing to replay/],
    [[src, '-w', 'x.pcap', '--time-modifier', '0'], /--time-modifier must be a number greater than 0/],
    [[src, '-w', 'x.pcap', '--time-modifier', '-2'], /--time-modifier must be a number greater than 0/],
    [[src, '-w', 'x.pcap', '--time-modifier', 'NaN'], /--time-modifier must be a number greater than 0/],
    [[src, '-w', 'x.pcap', '--pps', '-5'], /--pps must be a number greater than 0/],
    [[src, '-w', 'x.pcap', '--mbps', 'fast'], /--mbps must be a number greater than 0/],
    [[src, '-w', 'x.pcap', '--loop-count', '1.5'], /--loop-count must be a whole number/],
    [[src, '-w', 'x.pcap', '--skip-mtu', '0'], /--skip-mtu must be a whole number ≥ 1/],
    [[src, '-w', 'x.pcap', '--time-scale-enabled'], /needs --time-scale-duration/],
    [[src, '-w', 'x.pcap', '--time-scale-enabled', '--time-scale-duration', '0s'], /longer than 0/],
    [[src, '-w', 'x.pcap', '--topspeed', '--time-modifier', '2'], /each set the pace: keep one/],
    [[src, '-w', 'x.pcap', '--time-from', '2020-01-02', '--time-to', '2020-01-01'], /must be earlier than --time-to/],
    [[src, '-w', 'x.pcap', '--time-from', 'yesterday'], /--time-from: cannot read time/],
    [[src, '-w', 'x.pcap', '--loop-delay', '-1s'], /--loop-delay: cannot read duration/],
    [[src, '-w', 'x.pcap', '-i', 'pk-none0'], /choose one output/],
    [[src, '--keep-timestamps', '-i', 'pk-none0'], /--keep-timestamps applies to --out-file only/],
    [[src, '-w', 'x.pcap', '--sender', 'libpcap'], /--sender applies to --out-interface only/],
    [[src, '-i', 'pk-none0', '--sender', 'raw'], /Expected --sender=raw to be one of: auto, packet-socket, libpcap/],
  ]
  for (const [args, message] of cases) {
    const r = runCli(['replay', ...args])
    assert.equal(r.status, 2, `${args.join(' ')}: status ${r.status}`)
    assert.match(r.stderr.toString().replace(/\s*›\s*/g, ' '), message, args.join(' '))
  }
})

// ---- Sending, inside a network namespace of our own ----

const CAN_NETNS = process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0 && hasTool('tcpdump')
const NETNS_SKIP = CAN_NETNS ? false : 'needs root, `ip netns` and tcpdump'

interface Netns {
  name: string
  /**
   * Starts tcpdump on the receiving end, to exit after `count` frames (a SIGINT would drop what is still in its
   * ring buffer); done() waits for that, or stops it after a grace period when fewer arrive.
   */
  capture(file: string, count: number): Promise<{done(): Promise<void>}>
  /** Runs pcapkit inside the namespace and parses its --json report; `meanwhile` runs while it does. */
  replay(args: string[], meanwhile?: (replay: ChildProcess) => Promise<void>): Promise<{report: ReplayReport; status: number | null; stderr: string}>
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args)
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`)
}

/**
 * A namespace with a veth pair va↔vb, both ends inside it, IPv6 off (no router solicitations): pcapkit sends on
 * va, tcpdump listens on vb. Deleted when the test ends, whatever happens.
 */
function netns(t: {after: (fn: () => void) => void}): Netns {
  const name = `pk-test-${randomBytes(4).toString('hex')}`
  run('ip', ['netns', 'add', name])
  const children: ChildProcess[] = []
  t.after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
    spawnSync('ip', ['netns', 'del', name])
  })
  const inNs = (args: string[]): void => run('ip', ['netns', 'exec', name, ...args])
  inNs(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'])
  inNs(['ip', 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', name])
  inNs(['ip', 'link', 'set', 'va', 'up'])
  inNs(['ip', 'link', 'set', 'vb', 'up'])
  const spawnInNs = (args: string[]): ChildProcess => {
    const c = spawn('ip', ['netns', 'exec', name, ...args], {stdio: ['ignore', 'pipe', 'pipe']})
    children.push(c)
    return c
  }
  const exited = (c: ChildProcess): Promise<void> => new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) resolve()
    else c.once('exit', () => resolve())
  })
  return {
    name,
    async capture(file, count) {
      // A small snaplen and a large buffer: in immediate mode each ring slot is snaplen-sized, and the default
      // (262144 bytes in 2 MiB) holds only 8 frames, too few for a burst at top speed.
      const c = spawnInNs(['tcpdump', '-i', 'vb', '-Q', 'in', '--immediate-mode', '-U', '-n', '--time-stamp-precision=nano',
        '-s', '4096', '-B', '32768', '-c', String(count), '-w', file])
      let err = ''
      await new Promise<void>((resolve, reject) => {
        c.stderr!.on('data', (d) => {
          err += d
          if (err.includes('listening on')) resolve()
        })
        c.once('exit', () => reject(new Error(`tcpdump exited: ${err}`)))
      })
      return {
        async done() {
          const grace = setTimeout(() => c.kill('SIGINT'), CAPTURE_GRACE_MS)
          await exited(c)
          clearTimeout(grace)
        },
      }
    },
    async replay(args, meanwhile) {
      const c = spawnInNs([process.execPath, join(ROOT, 'bin/run.js'), 'replay', '--json', '--out-interface', 'va', ...args])
      let stdout = ''
      let stderr = ''
      c.stdout!.on('data', (d) => (stdout += d))
      c.stderr!.on('data', (d) => (stderr += d))
      await meanwhile?.(c)
      await exited(c)
      assert.ok(stdout.length > 0, `replay printed no report (status ${c.exitCode}): ${stderr}`)
      return {report: JSON.parse(stdout), status: c.exitCode, stderr}
    },
  }
}

/** How long tcpdump may still wait for frames after the replay ended (they arrive within microseconds). */
const CAPTURE_GRACE_MS = 1500

/**
 * Replays `args` while tcpdump records the receiving end, expecting `count` frames; returns the report and the
 * frames that arrived.
 */
async function replayToPeer(ns: Netns, dir: string, args: string[], count: number): Promise<{report: ReplayReport; peer: Frame[]}> {
  const file = join(dir, `peer-${randomBytes(3).toString('hex')}.pcap`)
  const cap = await ns.capture(file, count)
  const {report, status, stderr} = await ns.replay(args)
  await cap.done()
  assert.equal(status, 0, stderr)
  return {report, peer: await readFrames(file)}
}

/** What Linux lets a packet socket send on a 1500-MTU Ethernet: 1514 bytes, 1518 with an 802.1Q tag. */
function vethCarries(f: Frame): boolean {
  return f.data.length <= 1514 || (f.data.length <= 1518 && f.data.readUInt16BE(12) === 0x8100)
}

test('replay onto a veth: shared captures arrive byte-identical and in merged order; oversize frames counted', {skip: NETNS_SKIP || !HAVE_SHARED}, async (t) => {
  const dir = tempDir(t)
  const ns = netns(t)
  const {files: workers, merged} = await splitRoundRobin(dir, 2)
  // QinQinQ frames of 1526 bytes (over the limit), and a full-size 802.1Q frame (within it) from a later year.
  const qinq = join(SHARED, 'zeek__vlan-qinqinq.pcap')
  const tagged = probeFrame(0, 0, 1518)
  tagged.data.writeUInt16BE(0x8100, 12)
  tagged.sec = 2_000_000_000
  await writeFrames(join(dir, 'tagged.pcap'), [tagged])
  const inputs = [...workers, join(SHARED, 'zeek__5-pings.pcap'), qinq, join(dir, 'tagged.pcap')]
  const expected = [...merged, ...(await Promise.all(inputs.slice(2).map(readFrames))).flat()].sort(byTime)
  const fits = expected.filter(vethCarries)
  assert.equal(expected.length - fits.length, 3, 'the set holds three frames the veth cannot carry')

  // Both senders: the batching packet socket (the default on Ethernet) and libpcap.
  for (const sender of ['packet-socket', 'libpcap']) {
    const {report, peer} = await replayToPeer(ns, dir, [...inputs, '--topspeed', '--sender', sender], fits.length)
    assert.equal(report.packets.oversize, 3, sender)
    assert.equal(report.packets.failed, 0, sender)
    assert.equal(report.packets.sent, fits.length, sender)
    assert.deepEqual(peer.map((f) => f.data.toString('hex')), fits.map((f) => f.data.toString('hex')), sender)
  }

  // With --mtu-trunc, 802.1ad frames of 1518 bytes (no allowance for that tag) go out cut to 1514.
  const ad = join(SHARED, 'tcpreplay__test.rewrite_vlan802.1ad.pcap')
  const adFrames = await readFrames(ad)
  const cut = await replayToPeer(ns, dir, [ad, '--topspeed', '--mtu-trunc'], adFrames.length)
  assert.equal(cut.report.packets.truncated, adFrames.filter((f) => !vethCarries(f)).length)
  assert.deepEqual(cut.peer.map((f) => f.data.toString('hex')), adFrames.map((f) => f.data.subarray(0, 1514).toString('hex')))
})

test('replay onto an interface that goes down: frames counted as failed with their error, batched or paced', {skip: NETNS_SKIP || !HAVE_SHARED}, async (t) => {
  const ns = netns(t)
  const src = join(SHARED, 'zeek__5-pings.pcap')
  const setVa = (state: string): void => run('ip', ['netns', 'exec', ns.name, 'ip', 'link', 'set', 'va', state])
  const received = (): number => Number(spawnSync('ip', ['netns', 'exec', ns.name, 'cat', '/sys/class/net/vb/statistics/rx_packets']).stdout)
  const downAfter = async (replay: ChildProcess, stopAfterMs?: number): Promise<void> => {
    // Down once frames flow (the replay is past its start-up and has its SIGINT handler).
    const before = received()
    for (let waited = 0; received() === before && waited < 20_000; waited += 20) await sleep(20)
    setVa('down')
    if (stopAfterMs === undefined) return
    await sleep(stopAfterMs)
    replay.kill('SIGINT')
  }
  // Top speed in batches (failures found after the frames were accepted) and paced one by one. Not libpcap: the
  // cap binding aborts the process when the device goes away under its receive poll (binding.cc cb_packets).
  const cases: [string[], number | undefined][] = [
    [['--topspeed', '--loop-infinite'], 300],
    [['--pps', '20', '--loop-count', '4'], undefined],
  ]
  for (const [args, stopAfter] of cases) {
    setVa('up')
    const {report, status} = await ns.replay([src, ...args], (c) => downAfter(c, stopAfter))
    const what = args.join(' ')
    assert.ok(report.packets.sent > 0 && report.packets.failed > 0, `${what}: ${JSON.stringify(report.packets)}`)
    const errors = report.send_errors as Record<string, number>
    assert.equal(Object.values(errors).reduce((a, b) => a + b, 0), report.packets.failed, `${what}: ${JSON.stringify(errors)}`)
    assert.match(Object.keys(errors).join(), /ENETDOWN|Network is down/, what)
    assert.equal(status, 1, `${what}: failed frames make the exit status 1`)
  }
  // Down before the start: refused with a clear message by both senders.
  setVa('down')
  for (const sender of ['packet-socket', 'libpcap']) {
    const refused = await ns.replay([src, '--sender', sender]).catch((e: Error) => e)
    assert.match(String(refused), /status 3\b.*interface va is down/s, sender)
  }
})

/** Per-gap error (ms) between the frames that arrived and their original spacing, matched by sequence number. */
function gapErrorsMs(original: Frame[], peer: Frame[], speed: number): number[] {
  const seq = (f: Frame): number => f.data.readUInt32BE(14)
  assert.deepEqual(peer.map(seq), original.map(seq), 'every frame arrives, in order')
  return peer.slice(1).map((f, i) => Math.abs((seconds(f) - seconds(peer[i])) - (seconds(original[i + 1]) - seconds(original[i])) / speed) * 1e3)
}

const span = (frames: Frame[]): number => seconds(frames[frames.length - 1]) - seconds(frames[0])
const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]

test('replay onto a veth at 1x keeps gaps from 0.1 ms to 250 ms, measured on the receiving end', {skip: NETNS_SKIP}, async (t) => {
  const dir = tempDir(t)
  const ns = netns(t)
  const src = join(dir, 'gaps.pcap')
  const original = variedGaps(4)
  await writeFrames(src, original)
  const {report, peer} = await replayToPeer(ns, dir, [src], original.length)
  const errors = gapErrorsMs(original, peer, 1)
  // Tolerances that hold on a busy 2-core machine; the precision targets are measured by bench/replay.mjs.
  assert.ok(quantile(errors, 0.5) < 2, `p50 gap error ${quantile(errors, 0.5)} ms`)
  assert.ok(Math.max(...errors) < 20, `max gap error ${Math.max(...errors)} ms; lateness ${JSON.stringify(report.lateness_us)}; errors ${errors.map((e) => e.toFixed(2))}`)
  assert.ok(report.lateness_us !== null && report.lateness_us.p50 < 2000, `lateness ${JSON.stringify(report.lateness_us)}`)
})

test('replay onto a veth: fit to a duration within 1 %, speed factors 0.5 and 2.7 within 3 %', {skip: NETNS_SKIP}, async (t) => {
  const dir = tempDir(t)
  const ns = netns(t)
  const src = join(dir, 'second.pcap')
  const original = variedGaps(2, 1 / 0.8777) // a 1 s span
  await writeFrames(src, original)
  const originalSpan = span(original)
  assert.ok(Math.abs(originalSpan - 1) < 1e-6)

  const fit = await replayToPeer(ns, dir, [src, '--time-scale-enabled', '--time-scale-duration', '2s'], original.length)
  assert.equal(fit.peer.length, original.length)
  assert.ok(Math.abs(span(fit.peer) - 2) < 0.02, `fitted into ${span(fit.peer)} s, want 2 s`)

  for (const speed of [0.5, 2.7]) {
    const {peer} = await replayToPeer(ns, dir, [src, '--time-modifier', String(speed)], original.length)
    const want = originalSpan / speed
    assert.ok(Math.abs(span(peer) - want) < 0.03 * want, `at ${speed}x: ${span(peer)} s, want ${want} s`)
    gapErrorsMs(original, peer, speed) // all frames, in order
  }
})

test('replay onto a veth: --loop-count repeats every packet', {skip: NETNS_SKIP || !HAVE_SHARED}, async (t) => {
  const dir = tempDir(t)
  const ns = netns(t)
  const src = join(SHARED, 'zeek__5-pings.pcap')
  const original = await readFrames(src)
  const {report, peer} = await replayToPeer(ns, dir, [src, '--time-modifier', '40', '--loop-count', '3', '--loop-delay', '100ms'], 3 * original.length)
  assert.equal(report.loops, 3)
  assert.equal(peer.length, 3 * original.length)
  assert.deepEqual(peer.map((f) => f.data.toString('hex')), [...original, ...original, ...original].map((f) => f.data.toString('hex')))
})

test('--file-suffix and --file-regexp select the files replay takes from directories', (t) => {
  const dir = tempDir(t)
  const run = (extra: string[]) => {
    const out = join(dir, 'out.pcapng')
    const r = runCli(['replay', TESTDATA, '--out-file', out, '--topspeed', '--json', ...extra])
    assert.equal(r.status, 0, r.stderr.toString())
    return JSON.parse(r.stdout.toString())
  }
  const all = run([])
  const ng = run(['--file-suffix', 'pcapng'])
  const gaps = run(['--file-regexp', 'gaps'])
  assert.ok(ng.packets.sent > 0 && gaps.packets.sent > 0)
  assert.ok(ng.packets.sent < all.packets.sent && gaps.packets.sent < all.packets.sent)
  const bad = runCli(['replay', TESTDATA, '--out-file', join(dir, 'x.pcap'), '--file-regexp', '('])
  assert.equal(bad.status, 2)
  assert.match(bad.stderr.toString(), /--file-regexp/)
})
