import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {CORPUS, HAVE_SHARED, SHARED, hasTool, runCli, tempDir, tool} from './helpers.js'
import {CaptureReader} from '../src/pcap/reader.js'
import {AtomicFileSink, PcapWriter} from '../src/pcap/writer.js'
import {parseRules, RuleError} from '../src/split/rules.js'

const TOOLS = hasTool('tcpdump') && hasTool('tshark') && HAVE_SHARED

/** Packets of a capture as comparable lines: µs timestamp (what tcpdump -w keeps), lengths, bytes. */
async function packetLines(path: string): Promise<string[]> {
  const r = await CaptureReader.open(path)
  const out: string[] = []
  await r.forEach((p) => {
    out.push(`${p.tsSec}.${String(Math.floor(p.tsNsec / 1000)).padStart(6, '0')} ${p.caplen} ${p.origLen} ${p.buf.toString('hex', p.dataStart, p.dataStart + p.caplen)}`)
  })
  await r.close()
  return out
}

function filterCli(args: string[]): {status: number | null; stdout: string; stderr: string} {
  const r = runCli(['filter', ...args])
  return {status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString()}
}

// Captures without VLAN/MPLS (where our filter language and tcpdump's agree: see src/filter/ast.ts).
const INPUTS = ['mercury__4SICS-GeekLounge-151020.pcap', 'zeek__get-to-ssh-server.pcap', 'zeek__tls1.2.pcap', 'zeek__ssh.pcap', 'zeek__icmp6-ping.pcap',
  'gopacket__test_dns.pcap', 'tcpdump__pptp.pcap'] // big-endian: not passed through. Not zeek__ipv6-fragmented-dns: ports of IPv6 first fragments are a documented difference
const EXPRESSIONS: Record<string, string> = {
  net192: 'net 192.168.0.0/16 and not port 22',
  web: 'tcp port 80 or tcp port 443',
  udp: 'udp',
  icmp: 'icmp or icmp6',
  dns: 'port 53',
  small: 'less 100',
  host: 'host 192.168.2.2 or host 192.168.88.61',
  v6: 'ip6 and not udp',
}

test('expression rules write exactly what tcpdump -r FILE -w - EXPR writes, per rule and input', {skip: !TOOLS}, async (t) => {
  const dir = tempDir(t)
  const rules = join(dir, 'rules.yaml')
  writeFileSync(rules, Object.entries(EXPRESSIONS).map(([n, e]) => `${n}: {expr: "${e}"}`).join('\n'))
  const inputs = INPUTS.map((f) => join(SHARED, f))
  const r = filterCli([...inputs, '--rules', rules, '-o', join(dir, 'out'), '--json', '--workers', '3', '--fsync'])
  assert.equal(r.status, 0, r.stderr)
  const report = JSON.parse(r.stdout)
  assert.equal(report.inputs, inputs.length)
  for (const [name, expr] of Object.entries(EXPRESSIONS)) {
    let packets = 0
    for (const input of inputs) {
      const expected = tool('tcpdump', ['-r', input, '-w', join(dir, 'expected.pcap'), expr]) && await packetLines(join(dir, 'expected.pcap'))
      const outFile = join(dir, 'out', name, input.split('/').pop()!)
      const got = readdirSync(join(dir, 'out')).includes(name) && readdirSync(join(dir, 'out', name)).includes(outFile.split('/').pop()!)
        ? await packetLines(outFile) : []
      assert.deepEqual(got, expected, `rule ${name} (${expr}) on ${input}`)
      packets += expected.length
    }
    assert.equal(report.rules[name].packets, packets, `reported packets of ${name}`)
  }
})

test('gopherCap condition rules produce the same files as their expression equivalents', {skip: !HAVE_SHARED}, async (t) => {
  const dir = tempDir(t)
  const rules = join(dir, 'rules.yaml')
  writeFileSync(rules, `
gc-net:
  conditions:
    - {kind: subnet, match: [192.168.88.7/24, 10.0.0.0/8]}
    - {kind: port, negate: true, match: [22/tcp, 53/udp]}
ex-net: {expr: "(ip net 192.168.88.0/24 or ip net 10.0.0.0/8) and not (tcp port 22 or udp port 53)"}
gc-dns:
  conditions:
    - kind: port
      match: [53/udp]
ex-dns: {expr: "udp port 53"}
`)
  const input = join(SHARED, 'mercury__4SICS-GeekLounge-151020.pcap')
  const r = filterCli([input, join(SHARED, 'gopacket__test_dns.pcap'), '--rules', rules, '-o', join(dir, 'out'), '--json'])
  assert.equal(r.status, 0, r.stderr)
  const report = JSON.parse(r.stdout)
  for (const [gc, ex] of [['gc-net', 'ex-net'], ['gc-dns', 'ex-dns']]) {
    assert.ok(report.rules[gc].packets > 0, `${gc} matches something`)
    assert.deepEqual(report.rules[gc], report.rules[ex])
    for (const f of readdirSync(join(dir, 'out', ex))) {
      assert.deepEqual(readFileSync(join(dir, 'out', gc, f)), readFileSync(join(dir, 'out', ex, f)), `${gc} vs ${ex}: ${f}`)
    }
  }
})

test('a rule file with an error is rejected up front, naming the rule and the reason', (t) => {
  assert.throws(() => parseRules('ok: {expr: "tcp"}\nbad: {expr: "tcp port"}'), (e: RuleError) => e.rule === 'bad' && /column/.test(e.message))
  assert.throws(() => parseRules('gc:\n  conditions:\n    - {kind: port, match: [80/icmp]}'), /rule "gc": condition 1: 80\/icmp is not a port/)
  assert.throws(() => parseRules('gc:\n  conditions:\n    - {kind: subnet, match: [10.0.0.0/33]}'), /rule "gc"/)
  assert.throws(() => parseRules('gc:\n  conditions:\n    - {kind: geoip, match: [FR]}'), /kind "geoip" is not one of/)
  assert.throws(() => parseRules('../x: {expr: tcp}'), /rule name/)
  // gopherCap's own eve2filter writes plain addresses and bare ports: those load (as hosts and ports).
  assert.deepEqual(parseRules('"1":\n  conditions:\n    - {kind: subnet, match: [10.0.0.1]}\n    - {kind: port, match: ["80"]}'),
    [{name: '1', expression: '(ip host 10.0.0.1) and (port 80)'}])
  const dir = tempDir(t)
  writeFileSync(join(dir, 'rules.yaml'), 'x: {expr: "host 1.2.3"}')
  const r = filterCli([join(dir, 'rules.yaml'), '--rules', join(dir, 'rules.yaml'), '-o', join(dir, 'out')])
  assert.equal(r.status, 2)
  assert.match(r.stderr, /rule "x"/)
})

/** Writes `path` holding every packet of `input` followed by `copy(packet)` (or only the originals when null). */
async function writeWithCopies(input: string, path: string, copy: (p: Buffer) => {bytes: Buffer; delayNs: number}): Promise<number> {
  const r = await CaptureReader.open(input)
  const w = new PcapWriter(new AtomicFileSink(path), 1, 65535, true)
  let n = 0
  await r.forEach((p) => {
    w.write(p)
    const c = copy(p.buf.subarray(p.dataStart, p.dataStart + p.caplen))
    const ns = p.tsNsec + c.delayNs
    w.write({...p, buf: c.bytes, dataStart: 0, caplen: c.bytes.length, tsSec: p.tsSec + Math.floor(ns / 1e9), tsNsec: ns % 1e9})
    n++
  })
  await r.close()
  await w.close()
  return n
}

test('dedup: a capture merged with itself (TTL and checksum changed on the copies) comes back to the original; copies 1 s later stay', {skip: !HAVE_SHARED}, async (t) => {
  const dir = tempDir(t)
  const input = join(SHARED, 'zeek__ssh.pcap') // Ethernet + IPv4, no VLAN tags: the IP header is at byte 14
  writeFileSync(join(dir, 'rules.yaml'), 'all: {expr: "greater 0"}')
  // Another hop: TTL one lower, checksum changed, new MAC addresses; the IP packet is otherwise equal.
  const hop = (b: Buffer): Buffer => {
    const c = Buffer.from(b)
    c.fill(0xee, 0, 12)
    c[14 + 8]--
    c.writeUInt16BE(c.readUInt16BE(14 + 10) + 1 & 0xffff, 14 + 10)
    return c
  }
  const merged = join(dir, 'merged.pcap')
  const n = await writeWithCopies(input, merged, (b) => ({bytes: hop(b), delayNs: 20_000}))
  const later = join(dir, 'later.pcap')
  await writeWithCopies(input, later, (b) => ({bytes: Buffer.from(b), delayNs: 1e9}))
  const r = filterCli([merged, later, '--rules', join(dir, 'rules.yaml'), '-o', join(dir, 'out'), '--dedup', '--json'])
  assert.equal(r.status, 0, r.stderr)
  assert.equal(JSON.parse(r.stdout).duplicates, n)
  assert.deepEqual(await packetLines(join(dir, 'out/all/merged.pcap')), await packetLines(input))
  assert.equal((await packetLines(join(dir, 'out/all/later.pcap'))).length, 2 * n)
})

/** Per packet: every IP address / TCP port / payload tshark sees (outer to inner), one line per packet. */
function tsharkLayers(path: string): string[][][] {
  const fields = ['ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport', 'tcp.payload', 'data.data']
  const text = tool('tshark', ['-r', path, '-T', 'fields', '-E', 'occurrence=a', ...fields.flatMap((f) => ['-e', f])]).toString()
  return text.replace(/\n$/, '').split('\n').map((line) => line.split('\t').map((v) => (v === '' ? [] : v.split(','))))
}

const TUNNELS = ['tcpdump__various_gre.pcap', 'tcpdump__vxlan.pcap', 'tcpdump__geneve.pcap'].map((f) => join(SHARED, f))

test('--decap: inner addresses, ports and payloads equal the innermost layers tshark reports on the originals', {skip: !TOOLS}, async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'rules.yaml'), 'all: {expr: "greater 0"}')
  const erspan = readdirSync(CORPUS).filter((f) => f.startsWith('erspan-')).map((f) => join(CORPUS, f))
  const inputs = [...TUNNELS, ...erspan]
  const r = filterCli([...inputs, '--rules', join(dir, 'rules.yaml'), '-o', join(dir, 'out'), '--decap', '--json'])
  assert.equal(r.status, 0, r.stderr)
  const report = JSON.parse(r.stdout)
  assert.ok(report.decapsulated > 300, `decapsulated ${report.decapsulated}`)
  for (const input of inputs) {
    const original = tsharkLayers(input)
    const inner = tsharkLayers(join(dir, 'out/all', input.split('/').pop()!.replace(/\.pcap$/, '.pcapng')))
    assert.equal(inner.length, original.length, input)
    for (let i = 0; i < inner.length; i++) {
      // Each field's occurrences in the decapsulated packet are the innermost ones of the original.
      for (let f = 0; f < inner[i].length; f++) {
        assert.deepEqual(inner[i][f], original[i][f].slice(original[i][f].length - inner[i][f].length), `${input} packet ${i + 1} field ${f}`)
      }
    }
  }
  // The tunnel headers are gone: no GRE, VXLAN or Geneve left in the outputs of the VXLAN and Geneve captures.
  for (const f of ['tcpdump__vxlan.pcapng', 'tcpdump__geneve.pcapng']) {
    const protocols = tool('tshark', ['-r', join(dir, 'out/all', f), '-T', 'fields', '-e', 'frame.protocols']).toString()
    assert.doesNotMatch(protocols, /vxlan|geneve/, f)
  }
})

test('--decap-drop-failed drops tunnelled packets that cannot be opened; plain packets pass', {skip: !HAVE_SHARED}, (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'rules.yaml'), 'all: {expr: "greater 0"}')
  const r = filterCli([join(SHARED, 'tcpdump__various_gre.pcap'), '--rules', join(dir, 'rules.yaml'), '-o', join(dir, 'out'), '--decap', '--decap-drop-failed', '--json'])
  assert.equal(r.status, 0, r.stderr)
  const c = JSON.parse(r.stdout)
  assert.ok(c.decapFailed > 0)
  assert.equal(c.decapDropped, c.decapFailed)
  assert.equal(c.rules.all.packets, c.packets - c.decapDropped)
})
