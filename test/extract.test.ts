import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'
import {HAVE_SHARED, SHARED, hasTool, runCli, tempDir, tool} from './helpers.js'
import {CaptureReader} from '../src/pcap/reader.js'
import {Fields, LAYER} from '../src/decode/fields.js'
import {decode} from '../src/decode/decode.js'
import {parseRules} from '../src/split/rules.js'
import {outputName} from '../src/split/eve.js'

const CAPTURE = join(SHARED, 'zeek__ssh.pcap')
const READY = HAVE_SHARED && hasTool('tcpdump')

async function packetLines(path: string): Promise<string[]> {
  const r = await CaptureReader.open(path)
  const out: string[] = []
  await r.forEach((p) => {
    out.push(`${p.tsSec}.${String(Math.floor(p.tsNsec / 1000)).padStart(6, '0')} ${p.caplen} ${p.buf.toString('hex', p.dataStart, p.dataStart + p.caplen)}`)
  })
  await r.close()
  return out
}

/** First and last packet time ([sec, µs]) of a TCP flow in the capture, either direction. */
async function flowSpan(a: string, ap: number, b: string, bp: number): Promise<{first: [number, number]; last: [number, number]}> {
  const r = await CaptureReader.open(CAPTURE)
  const f = new Fields()
  const ip = (s: string): number => s.split('.').reduce((n, o) => n * 256 + Number(o), 0)
  let first: [number, number] | null = null
  let last: [number, number] = [0, 0]
  await r.forEach((p) => {
    decode(p.buf, p.dataStart, p.caplen, p.linkType, f, p.origLen)
    if ((f.layers & LAYER.TCP) === 0) return
    const fwd = f.ip4Src === ip(a) && f.srcPort === ap && f.ip4Dst === ip(b) && f.dstPort === bp
    const rev = f.ip4Src === ip(b) && f.srcPort === bp && f.ip4Dst === ip(a) && f.dstPort === ap
    if (!fwd && !rev) return
    first ??= [p.tsSec, Math.floor(p.tsNsec / 1000)]
    last = [p.tsSec, Math.floor(p.tsNsec / 1000)]
  })
  await r.close()
  return {first: first!, last}
}

/** EVE's timestamp form: local-offset style with a 4-digit zone, microseconds. */
function eveTime([sec, usec]: [number, number], plusSec = 0): string {
  return `${new Date((sec + plusSec) * 1000).toISOString().slice(0, 19)}.${String(usec).padStart(6, '0')}+0000`
}

const FLOWS = [
  {a: '192.168.1.31', ap: 51489, b: '192.168.1.32', bp: 22, sid: 2001},
  {a: '192.168.2.1', ap: 55179, b: '192.168.2.158', bp: 2200, sid: 2002},
]

async function writeEvents(dir: string): Promise<string> {
  const lines: string[] = []
  let flowId = 1234567890123456780n
  for (const fl of FLOWS) {
    const {first, last} = await flowSpan(fl.a, fl.ap, fl.b, fl.bp)
    flowId++
    const common = `"flow_id":${flowId},"src_ip":"${fl.a}","src_port":${fl.ap},"dest_ip":"${fl.b}","dest_port":${fl.bp},"proto":"TCP"`
    // An alert (flow still open: start known, end by the --after timeout) and the flow record (start and end).
    lines.push(`{"timestamp":"${eveTime(first, 1)}","event_type":"alert",${common},"alert":{"signature_id":${fl.sid},"signature":"x"},"flow":{"start":"${eveTime(first)}"}}`)
    lines.push(`{"timestamp":"${eveTime(last, 1)}","event_type":"flow",${common},"flow":{"start":"${eveTime(first)}","end":"${eveTime(last)}"}}`)
  }
  lines.push('{"timestamp":"2015-01-01T00:00:00.000000+0000","event_type":"stats","stats":{}}')
  const path = join(dir, 'eve.json.gz')
  writeFileSync(path, gzipSync(lines.join('\n') + '\n'))
  return path
}

function expectedFlow(dir: string, fl: (typeof FLOWS)[number]): Promise<string[]> {
  const out = join(dir, `expected-${fl.sid}.pcap`)
  tool('tcpdump', ['-r', CAPTURE, '-w', out, `tcp and ((src host ${fl.a} and src port ${fl.ap} and dst host ${fl.b} and dst port ${fl.bp}) or (src host ${fl.b} and src port ${fl.bp} and dst host ${fl.a} and dst port ${fl.ap}))`])
  return packetLines(out)
}

test('extract by scan and by index: each event\'s file holds exactly its flow\'s packets (as tcpdump on the 5-tuple)', {skip: !READY}, async (t) => {
  const dir = tempDir(t)
  const events = await writeEvents(dir)
  const scan = runCli(['extract', '--event', events, '--input', CAPTURE, '-o', join(dir, 'scan'), '--after', '10s', '--json'])
  assert.equal(scan.status, 0, scan.stderr.toString())
  const report = JSON.parse(scan.stdout.toString())
  assert.equal(report.events, 4)
  assert.equal(report.skippedLines, 1)
  const map = runCli(['map', CAPTURE, '--dump-json', join(dir, 'ds.json')])
  assert.equal(map.status, 0, map.stderr.toString())
  const indexed = runCli(['extract', '--event', events, '--dump-json', join(dir, 'ds.json'), '-o', join(dir, 'index'),
    '--file-format', '{event_type}-{flow_id}.pcap', '--after', '10s'])
  assert.equal(indexed.status, 0, indexed.stderr.toString())
  assert.equal(readdirSync(join(dir, 'index')).length, 4)
  let flowId = 1234567890123456780n
  for (const fl of FLOWS) {
    flowId++
    const expected = await expectedFlow(dir, fl)
    assert.ok(expected.length > 50)
    // The alert's name uses alert.signature_id and the exact 64-bit flow_id.
    assert.deepEqual(await packetLines(join(dir, 'scan', `${fl.sid}-${flowId}.pcap`)), expected)
    assert.deepEqual(await packetLines(join(dir, 'index', `alert-${flowId}.pcap`)), expected)
    assert.deepEqual(await packetLines(join(dir, 'index', `flow-${flowId}.pcap`)), expected)
  }
})

test('a short flow timeout cuts the flow at event time + --after', {skip: !READY}, async (t) => {
  const dir = tempDir(t)
  const events = await writeEvents(dir)
  const r = runCli(['extract', '--event', events, '--input', CAPTURE, '-o', dir, '--event-type', 'alert', '--after', '0s', '--json'])
  assert.equal(r.status, 0, r.stderr.toString())
  const expected = await expectedFlow(dir, FLOWS[0])
  const {first} = await flowSpan(FLOWS[0].a, FLOWS[0].ap, FLOWS[0].b, FLOWS[0].bp)
  const cut = expected.filter((line) => Number(line.split(' ')[0]) <= first[0] + 1 + first[1] / 1e6 + 1e-7)
  assert.ok(cut.length < expected.length)
  assert.deepEqual(await packetLines(join(dir, `${FLOWS[0].sid}-1234567890123456781.pcap`)), cut)
})

test('output names are sanitized into one file name inside --out-dir', () => {
  assert.equal(outputName('../{a}/{b.c}.pcap', {a: '../../etc', b: {c: 'x/y'}}), '__.._.._etc_x_y.pcap')
  assert.equal(outputName('{missing}.pcap', {}), 'unknown.pcap')
  assert.equal(outputName('{signature_id}', {alert: {signature_id: 7}}), '7')
})

test('eve2filter writes rules that filter loads as they are (expressions and gopherCap conditions)', {skip: !READY}, async (t) => {
  const dir = tempDir(t)
  const events = await writeEvents(dir)
  for (const extra of [[], ['--conditions']]) {
    const rules = join(dir, `rules${extra.length}.yaml`)
    const r = runCli(['eve2filter', '--event', events, '-o', rules, ...extra])
    assert.equal(r.status, 0, r.stderr.toString())
    const out = join(dir, `out${extra.length}`)
    const f = runCli(['filter', CAPTURE, '--rules', rules, '-o', out, '--json'])
    assert.equal(f.status, 0, f.stderr.toString())
    const report = JSON.parse(f.stdout.toString())
    assert.deepEqual(Object.keys(report.rules), ['flow-1234567890123456781', 'flow-1234567890123456782'])
    for (const [i, fl] of FLOWS.entries()) {
      assert.deepEqual(await packetLines(join(out, `flow-123456789012345678${i + 1}`, 'zeek__ssh.pcap')), await expectedFlow(dir, fl))
    }
  }
  assert.ok(parseRules('a: {expr: "tcp"}'))
})
