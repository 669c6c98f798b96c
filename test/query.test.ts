// `query` against tcpdump: the records the index answers with equal `tcpdump -r FILE -w - FILTER`, merged in time.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {gzipSync} from 'node:zlib'
import {basename, join} from 'node:path'
import {HAVE_SHARED, ROOT, SHARED, capturesIn, errorText, hasTool, runCli, tempDir} from './helpers.js'
import {CaptureReader} from '../src/pcap/reader.js'
import {LINKTYPE} from '../src/pcap/linktype.js'
import {decode} from '../src/decode/decode.js'
import {Fields, LAYER} from '../src/decode/fields.js'
import {bufferSource} from '../src/pcap/source.js'
import {AtomicFileSink, PcapWriter} from '../src/pcap/writer.js'

/** A record as compared: exact time and bytes. */
type Rec = string

async function records(capture: Buffer): Promise<Rec[]> {
  if (capture.length === 0) return []
  const reader = await CaptureReader.fromSource((await bufferSource(capture)).source, 'output')
  const out: Rec[] = []
  // Damaged inputs: the records before the damage are what tcpdump and query see too.
  await reader.forEach((r) => out.push(`${r.tsSec}.${String(r.tsNsec).padStart(9, '0')} ${r.origLen} ${r.buf.toString('hex', r.dataStart, r.dataStart + r.caplen)}`)).catch(() => {})
  return out
}

const isTag = (at: number): string => `(ether[${at}:2] = 0x8100 or ether[${at}:2] = 0x88a8 or ether[${at}:2] = 0x9100)`
const isMpls = (at: number): string => `(ether[${at}:2] = 0x8847 or ether[${at}:2] = 0x8848)`
const bottom = (at: number): string => `(ether[${at}] & 1 = 1)`

/**
 * tcpdump reads fixed offsets: `host X` misses VLAN-tagged or MPLS-labelled frames unless written `vlan and host X`,
 * and a `vlan`/`mpls` keyword shifts the offsets of the WHOLE rest of the expression (so `P or (vlan and P)` does
 * not work). Our primitives look through any stack. The tcpdump equivalent of a filter F is therefore one run per
 * encapsulation depth, each guarded by raw byte tests (which shift nothing) so that only frames of exactly that
 * depth can match, and the union of the runs. Non-Ethernet link types get F as it is.
 */
function variants(f: string): string[] {
  return [
    `not ${isTag(12)} and not ${isMpls(12)} and (${f})`,
    `${isTag(12)} and not ${isTag(16)} and not ${isMpls(16)} and vlan and (${f})`,
    `${isTag(12)} and ${isTag(16)} and not ${isTag(20)} and not ${isMpls(20)} and vlan and vlan and (${f})`,
    `${isTag(12)} and ${isTag(16)} and ${isTag(20)} and not ${isTag(24)} and vlan and vlan and vlan and (${f})`,
    `${isMpls(12)} and ${bottom(16)} and mpls and (${f})`,
    `${isMpls(12)} and not ${bottom(16)} and ${bottom(20)} and mpls and mpls and (${f})`,
    `${isTag(12)} and ${isMpls(16)} and ${bottom(20)} and vlan and mpls and (${f})`,
    `${isTag(12)} and ${isMpls(16)} and not ${bottom(20)} and ${bottom(24)} and vlan and mpls and mpls and (${f})`,
  ]
}

/** Our filters, each with the tcpdump runs whose union is its answer (default: variants(filter)). */
const FILTERS: [string, string[]?][] = [
  ['host 192.168.88.61'], ['src host 192.168.88.1'], ['dst host 192.168.88.61'], ['host 127.0.0.1'],
  ['host 10.0.0.1'], ['net 192.168.88.0/24'], ['src net 10.0.0.0/8'], ['dst net 192.168.0.0/16'],
  ['net 172.16.0.0/12'], ['port 53'], ['src port 53'], ['dst port 80'], ['port 7000'], ['portrange 1-1023'],
  ['tcp portrange 6000-7000'], ['udp dst portrange 100-200'], ['tcp'], ['udp'], ['icmp'], ['icmp6'], ['sctp'],
  ['arp'], ['ip'], ['ip6'], ['ip proto 47'], ['tcp port 22'], ['udp port 53 or udp port 5353'],
  ['host 192.168.88.61 and port 53'], ['host 192.168.88.61 and not port 53'], ['not tcp and not udp'],
  ['tcp and (port 80 or port 443)'], ['! icmp && host 192.168.88.1'], ['host 192.168.88.61 and host 192.168.88.1'],
  ['src host 192.168.88.61 and dst port 53'], ['greater 100 and udp'], ['ip6 and udp'], ['host ::1'],
  ['net 2001:db8::/32'], ['udp and not port 53 and not port 5353'], ['port 6667 or port 22'],
  ['less 64', ['less 64']], ['greater 1000', ['greater 1000']],
  ['ether host 00:0c:29:ed:8d:9b', ['ether host 00:0c:29:ed:8d:9b']], ['ether dst ff:ff:ff:ff:ff:ff', ['ether dst ff:ff:ff:ff:ff:ff']],
  ['vlan', ['vlan']], ['vlan 4093', ['vlan 4093', 'vlan and vlan 4093', 'vlan and vlan and vlan 4093']],
  ['vlan 20', ['vlan 20', 'vlan and vlan 20', 'vlan and vlan and vlan 20']],
  ['mpls', ['mpls', 'vlan and mpls']], ['mpls 29', ['mpls 29', 'mpls and mpls 29', 'vlan and mpls 29']],
]

/**
 * Captures whose packets tcpdump's fixed offsets read differently on purpose (see the filter language notes):
 * IPv6 extension-header chains and first fragments, BSD loopback in the other byte order, snaplen-cut headers.
 */
const DIFFERENT_ON_PURPOSE = new Set([
  'libpcap__ipv6_ext_headers.pcap', 'tcpdump__ipv6-routing-header.pcap', 'zeek__trunc-hdr.pcap', 'zeek__icmp6-ping.pcap',
  'gopacket__test_loopback.pcap', 'hadrielk__be_test006.pcapng', 'zeek__ipv6-fragmented-dns.pcap',
  'tcpdump__mpls-traceroute.pcap', // MPLS over PPP: the guards above need Ethernet (filter.test.ts covers it)
  'tcpdump__ieee802.11_exthdr.pcap', // two radiotap frames cut before their 802.11 header (tcpdump rejects even `not tcp`)
])

interface FileInfo {records: Rec[]; shapes: Set<number>; ethernet: boolean}
const fileInfo = new Map<string, FileInfo>()

/** A file's records, and which variants (by index) its frames need: only those are run. */
async function infoOf(file: string): Promise<FileInfo> {
  let info = fileInfo.get(file)
  if (info) return info
  const shapes = new Set<number>()
  const fields = new Fields()
  let ethernet = true
  const reader = await CaptureReader.open(file)
  await reader.forEach((r) => {
    if (r.linkType !== LINKTYPE.ETHERNET) ethernet = false
    decode(r.buf, r.dataStart, r.caplen, r.linkType, fields, r.origLen)
    const v = fields.layers & LAYER.VLAN ? fields.vlanCount : 0
    const m = fields.layers & LAYER.MPLS ? fields.mplsCount : 0
    shapes.add(SHAPES.findIndex(([sv, sm]) => sv === v && sm === m))
  }).catch(() => {})
  await reader.close()
  info = {records: await records(readFileSync(file)), shapes, ethernet}
  fileInfo.set(file, info)
  return info
}

/** (VLAN tags, MPLS labels) of each entry of variants(). */
const SHAPES = [[0, 0], [1, 0], [2, 0], [3, 0], [0, 1], [0, 2], [1, 1], [1, 2]]

/**
 * tcpdump's answer for each file: the union of the runs (in file order; each run's output is a subsequence of the
 * file), merged by time across files. A run tcpdump cannot compile for a link type falls back to the plain filter.
 */
async function reference(files: string[], ours: string, runs: string[] | null): Promise<Rec[]> {
  const perFile: Rec[][] = []
  for (const file of files) {
    const {records: all, shapes, ethernet} = await infoOf(file)
    assert.ok(!shapes.has(-1), `${file} has frames deeper than the variants cover`)
    const hit = new Uint8Array(all.length)
    // A damaged file makes tcpdump exit 1 after writing the records before the damage: those count.
    const run = (expr: string) => spawnSync('tcpdump', ['--time-stamp-precision=nano', '-r', file, '-w', '-', expr], {maxBuffer: 1 << 28})
    // The guards read Ethernet offsets: other link types get F as it is (802.11 and PPI would compile ether[] and
    // read their own headers there).
    const wanted = runs ?? (ethernet ? variants(ours).filter((_, i) => shapes.has(i)) : [ours])
    let outputs = wanted.map(run).filter((r) => r.stdout.length > 0)
    if (outputs.length === 0) outputs = [run(ours)].filter((r) => r.stdout.length > 0)
    if (outputs.length === 0) continue // tcpdump cannot filter this link type at all (802.11 with `vlan`…)
    for (const out of outputs) {
      let i = 0
      for (const rec of await records(out.stdout)) {
        while (i < all.length && all[i] !== rec) i++
        assert.ok(i < all.length, `tcpdump wrote a record not in ${file}`)
        hit[i++] = 1
      }
    }
    perFile.push(all.filter((_, i) => hit[i]))
  }
  return mergeByTime(perFile)
}

/** Stable k-way merge by timestamp, ties to the earlier file, as query merges. */
function mergeByTime(lists: Rec[][]): Rec[] {
  const out: Rec[] = []
  const pos = lists.map(() => 0)
  const key = (r: Rec): [number, number] => {
    const [sec, frac] = r.slice(0, r.indexOf(' ')).split('.')
    return [Number(sec), Number(frac)]
  }
  for (;;) {
    let best = -1
    for (let i = 0; i < lists.length; i++) {
      if (pos[i] >= lists[i].length) continue
      if (best < 0) {
        best = i
        continue
      }
      const a = key(lists[i][pos[i]])
      const b = key(lists[best][pos[best]])
      if (a[0] < b[0] || (a[0] === b[0] && a[1] < b[1])) best = i
    }
    if (best < 0) return out
    out.push(lists[best][pos[best]++])
  }
}

/** tcpdump's names of the link types decode() understands. */
const DECODED_LINK_NAMES = new Set([
  'EN10MB', 'FDDI', 'LINUX_SLL', 'LINUX_SLL2', 'NULL', 'LOOP', 'RAW', 'IPV4', 'IPV6', 'PPP', 'PPP_SERIAL', 'C_HDLC',
  'IEEE802_11', 'IEEE802_11_RADIO', 'PPI',
])

function comparable(files: string[]): string[] {
  return files.filter((f) => !DIFFERENT_ON_PURPOSE.has(basename(f)))
}

async function ourAnswer(db: string, filter: string, dir: string): Promise<Rec[]> {
  const out = join(dir, 'answer.pcapng')
  rmSync(out, {force: true})
  const r = runCli(['query', filter, '--db', db, '-w', out, '--format', 'pcapng'])
  assert.equal(r.status, 0, `query '${filter}': ${r.stderr}`)
  return records(readFileSync(out))
}

/** Copies the comparable shared captures (plain, valid ones) into `dir`, so the test can change them later. */
function dataset(dir: string): string[] {
  mkdirSync(dir, {recursive: true})
  const out: string[] = []
  for (const f of comparable(capturesIn(SHARED))) {
    if (f.endsWith('.gz')) continue // same content as the plain copies beside them
    const r = spawnSync('tcpdump', ['-r', f, '-c', '1', '-w', '/dev/null'])
    if (r.status !== 0) continue
    // NFLOG: tcpdump cannot filter it (decode.test.ts checks our reading of it against tshark). Link types we do not
    // decode (a documented limit) only match `not …`.
    const link = /link-type (\S+)/.exec(r.stderr.toString())?.[1]
    if (link && !DECODED_LINK_NAMES.has(link)) continue
    const to = join(dir, basename(f))
    copyFileSync(f, to)
    out.push(to)
  }
  return out.sort()
}

test('query answers equal tcpdump for 50 filters over the shared captures', {skip: !HAVE_SHARED || !hasTool('tcpdump'), timeout: 600_000}, async (t) => {
  const dir = tempDir(t)
  const files = dataset(join(dir, 'pcaps'))
  const db = join(dir, 'set.index')
  const m = runCli(['map', join(dir, 'pcaps'), '--dump-json', join(dir, 'set.json')])
  assert.ok(m.status === 0 || m.status === 1, m.stderr.toString())
  assert.ok(FILTERS.length >= 40)
  let nonEmpty = 0
  for (const [ours, runs] of FILTERS) {
    const ref = await reference(files, ours, runs ?? null)
    const got = await ourAnswer(db, ours, dir)
    assert.equal(got.length, ref.length, `'${ours}': ${got.length} packets, tcpdump ${ref.length}`)
    assert.deepEqual(got, ref, `'${ours}'`)
    if (got.length > 0) nonEmpty++
  }
  assert.ok(nonEmpty >= 35, `only ${nonEmpty} filters matched anything`)
})

test('after an incremental re-map, answers follow the files', {skip: !HAVE_SHARED || !hasTool('tcpdump')}, async (t) => {
  const dir = tempDir(t)
  const pcaps = join(dir, 'pcaps')
  const files = dataset(pcaps).filter((f) => /zeek__5-pings|gopacket__test_dns|zeek__tls1\.2|tcpreplay__test\.pcap$/.test(f))
  for (const f of dataset(pcaps)) if (!files.includes(f)) rmSync(f)
  const json = join(dir, 'set.json')
  const db = join(dir, 'set.index')
  assert.equal(runCli(['map', pcaps, '--dump-json', json]).status, 0)
  const filter = 'icmp or udp port 53'
  assert.deepEqual(await ourAnswer(db, filter, dir), await reference(files, filter, null))

  // Change one file (keep its first half), remove one, add one.
  const changed = files.find((f) => f.includes('tcpreplay__test'))!
  const kept = (await records(readFileSync(changed))).length
  const half = new PcapWriter(new AtomicFileSink(changed + '.new'), 1, 65535, false)
  const reader = await CaptureReader.open(changed)
  let n = 0
  await reader.forEach((r) => void (n++ < kept / 2 && half.write(r)))
  await reader.close()
  await half.close()
  copyFileSync(changed + '.new', changed)
  rmSync(changed + '.new')
  const removed = files.find((f) => f.includes('gopacket__test_dns'))!
  rmSync(removed)
  const added = join(pcaps, 'zeek__icmp6-ping.pcap')
  copyFileSync(join(SHARED, 'zeek__icmp6-ping.pcap'), added)

  // Before re-mapping, the changed file is an error that names it, never wrong packets.
  const stale = runCli(['query', filter, '--db', db, '--count'])
  assert.equal(stale.status, 1)
  assert.match(errorText(stale), /tcpreplay__test\.pcap: changed since/)
  assert.match(errorText(stale), /gopacket__test_dns\.pcap: no longer exists/)

  const again = runCli(['map', pcaps, '--dump-json', json])
  assert.equal(again.status, 0, again.stderr.toString())
  assert.match(again.stdout.toString(), /\(2 read, 2 unchanged/)
  const now = [...files.filter((f) => f !== removed), added].sort()
  assert.deepEqual(await ourAnswer(db, filter, dir), await reference(now, filter, null))
})

test('query gives clear errors for bad filters, missing indexes and bad times', {skip: !HAVE_SHARED}, (t) => {
  const dir = tempDir(t)
  const syntax = runCli(['query', 'host 10.0.0.1 and (port 80', '--db', dir])
  assert.equal(syntax.status, 2)
  assert.match(errorText(syntax), /column/)
  const missing = runCli(['query', 'tcp', '--db', join(dir, 'nothing.index'), '--count'])
  assert.equal(missing.status, 2)
  assert.match(errorText(missing), /no index at/)
  const time = runCli(['query', 'tcp', '--db', dir, '--start', 'yesterday-ish'])
  assert.equal(time.status, 2)
  assert.match(errorText(time), /cannot read time/)
})

test('--scan gives the same answer as the index, and pcap output pipes into tshark', {skip: !HAVE_SHARED || !hasTool('tshark')}, async (t) => {
  const dir = tempDir(t)
  const file = join(SHARED, 'mercury__4SICS-GeekLounge-151020.pcap')
  assert.equal(runCli(['map', file, '--dump-json', join(dir, 'm.json')]).status, 0)
  const filter = 'host 192.168.88.61 and udp and less 80'
  const viaIndex = runCli(['query', filter, '--dump-json', join(dir, 'm.json')])
  const viaScan = runCli(['query', filter, '--scan', '--input', file])
  assert.equal(viaIndex.status, 0)
  assert.ok(viaIndex.stdout.length > 1000)
  assert.deepEqual(viaIndex.stdout, viaScan.stdout)
  // A real shell pipe, as a user types it (Node's own stdio pipes are sockets, which tshark refuses).
  const cli = join(ROOT, 'bin/run.js')
  const tshark = spawnSync('sh', ['-c', `"${process.execPath}" "${cli}" query '${filter}' --dump-json "${join(dir, 'm.json')}" | tshark -r - -T fields -e frame.number`])
  assert.equal(tshark.status, 0, tshark.stderr.toString())
  assert.equal(tshark.stdout.toString().trim().split('\n').length, (await records(viaIndex.stdout)).length)
  const json = runCli(['query', filter, '--dump-json', join(dir, 'm.json'), '--format', 'json', '--limit', '2'])
  const lines = json.stdout.toString().trim().split('\n').map((l) => JSON.parse(l))
  assert.equal(lines.length, 2)
  assert.equal(lines[0].src === '192.168.88.61' || lines[0].dst === '192.168.88.61', true)
  assert.equal(lines[0].proto, 17)
})

test('a damaged capture, plain or gzipped, answers with the records before the damage and no error', {skip: !HAVE_SHARED || !hasTool('tcpdump')}, (t) => {
  const dir = tempDir(t)
  const damaged = join(SHARED, 'sv__tls_DER-incomplete-header.pcap')
  copyFileSync(damaged, join(dir, 'plain.pcap'))
  writeFileSync(join(dir, 'packed.pcap.gz'), gzipSync(readFileSync(damaged)))
  const json = join(dir, 'set.json')
  runCli(['map', dir, '--dump-json', json]) // exit 1: both files are reported damaged
  const before = spawnSync('tcpdump', ['-nn', '-r', damaged]).stdout.toString().split('\n').filter(Boolean).length
  assert.ok(before > 0)
  // The last group holds fewer than 8 records: reading it must stop where the indexed records end.
  const q = runCli(['query', 'tcp', '--dump-json', json, '--format', 'text'])
  assert.equal(q.status, 0, errorText(q))
  assert.equal(q.stdout.toString().split('\n').filter(Boolean).length, 2 * before)
})
