// Reader and writer: round trips on every shared capture, nanosecond precision, damaged inputs.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {gunzipSync, gzipSync} from 'node:zlib'
import {HAVE_SHARED, SHARED, capturesIn, pcapHeader, pcapRecord, tempDir} from './helpers.js'
import {CaptureReader, type PacketRecord} from '../src/pcap/reader.js'
import {bufferSource} from '../src/pcap/source.js'
import {AtomicFileSink, PcapWriter, PcapngWriter} from '../src/pcap/writer.js'
import {CaptureError} from '../src/pcap/errors.js'
import {StatsAccumulator} from '../src/dataset/file-stats.js'
import {mapCapture} from '../src/dataset/map-file.js'
import {splitInput} from '../src/split/splitter.js'

interface Rec {ts: string; orig: number; link: number; data: string; hasTs: boolean}

function snapshot(rec: PacketRecord): Rec {
  return {
    ts: `${rec.tsSec}.${String(rec.tsNsec).padStart(9, '0')}`, orig: rec.origLen, link: rec.linkType, hasTs: rec.hasTs,
    data: rec.buf.toString('hex', rec.dataStart, rec.dataStart + rec.caplen),
  }
}

async function readAll(path: string): Promise<{recs: Rec[]; reader: CaptureReader; error: unknown}> {
  const reader = await CaptureReader.open(path)
  const recs: Rec[] = []
  let error: unknown = null
  try {
    await reader.forEach((r) => recs.push(snapshot(r)))
  } catch (e) {
    error = e
  } finally {
    await reader.close()
  }
  return {recs, reader, error}
}

async function readBuffer(buf: Buffer, name = 'mem'): Promise<Rec[]> {
  const reader = await CaptureReader.fromSource((await bufferSource(buf)).source, name)
  const recs: Rec[] = []
  try {
    await reader.forEach((r) => recs.push(snapshot(r)))
  } finally {
    await reader.close()
  }
  return recs
}

test('every shared capture round-trips through the pcap and pcapng writers', {skip: !HAVE_SHARED}, async (t) => {
  const dir = tempDir(t)
  let checked = 0
  for (const file of capturesIn(SHARED)) {
    let original
    try {
      original = await readAll(file)
    } catch {
      continue // rejected at open (wrong version…): nothing to round-trip
    }
    const {recs, reader} = original
    const links = new Set(recs.map((r) => r.link))
    const outputs: string[] = [join(dir, 'out.pcapng')]
    const ng = new PcapngWriter(new AtomicFileSink(outputs[0]))
    let classic: PcapWriter | null = null
    if (links.size <= 1 && recs.every((r) => r.hasTs)) {
      outputs.push(join(dir, 'out.pcap'))
      classic = new PcapWriter(new AtomicFileSink(outputs[1]), [...links][0] ?? reader.interfaces[0]?.linkType ?? 1,
        reader.snaplen, reader.tsPrecision !== 'us')
    }
    const again = await CaptureReader.open(file)
    try {
      await again.forEach((r) => {
        assert.equal(ng.write(r), undefined) // small files never need a flush mid-way
        if (classic) assert.equal(classic.write(r), undefined)
      })
    } catch (e) {
      assert.ok(e instanceof CaptureError, `${file}: ${e}`)
    }
    await again.close()
    await ng.close()
    await classic?.close()
    for (const out of outputs) {
      const back = await readAll(out)
      assert.equal(back.error, null)
      // A cut SPB cannot be written as an SPB (its length would be ambiguous): it becomes an EPB at time 0.
      const expected = recs.map((r) => (!r.hasTs && r.data.length / 2 < r.orig ? {...r, hasTs: true} : r))
      assert.deepEqual(back.recs, expected, `${file} via ${out}`)
      // tcpdump must read what we wrote (it re-writes it to stdout, which we count); libpcap refuses pcapng with
      // mixed link types, so those go to tshark.
      if (recs.length > 0) {
        if (links.size > 1) {
          const ts = spawnSync('tshark', ['-r', out, '-T', 'fields', '-e', 'frame.number'], {maxBuffer: 1 << 30})
          assert.equal(ts.stdout.toString().trim().split('\n').length, recs.length, `tshark reads every record of ${file}`)
        } else {
          const td = spawnSync('tcpdump', ['-r', out, '-w', '-'], {maxBuffer: 1 << 30})
          if (!/unknown data link type/.test(td.stderr.toString())) {
            assert.equal(td.status, 0, `tcpdump -r ${out} (from ${file}): ${td.stderr}`)
            assert.equal((await readBuffer(td.stdout)).length, recs.length, `tcpdump reads every record of ${file}`)
          }
        }
      }
    }
    checked++
  }
  assert.ok(checked > 50, `round-tripped ${checked} files`)
})

test('nanosecond timestamps survive pcap and pcapng output exactly', {skip: !HAVE_SHARED}, async () => {
  const {recs} = await readAll(join(SHARED, 'tcpdump__tcp-handshake-nano.pcap'))
  assert.equal(recs.length, 3)
  assert.equal(recs[0].ts, '1418145369.924505488')
  assert.equal(recs[2].ts, '1418145370.052115157')
  const mixed = await readAll(join(SHARED, 'zeek__pcapng-multi-interface.pcapng'))
  assert.ok(mixed.recs.some((r) => !r.ts.endsWith('000')), 'a 10^-9 interface keeps its nanoseconds')
})

test('pcapng if_tsresol 2^-8 and big-endian sections are decoded', {skip: !HAVE_SHARED}, async () => {
  const {recs} = await readAll(join(SHARED, 'gopacket__le_test902.pcapng'))
  assert.equal(recs[0].ts, '1519128000.195312500') // 50/256 s
  const be = await readAll(join(SHARED, 'hadrielk__be_test006.pcapng'))
  assert.equal(be.reader.byteOrder, 'big-endian')
  assert.deepEqual([...new Set(be.recs.map((r) => r.link))].sort(), [0, 1])
  const sections = await readAll(join(SHARED, 'hadrielk__le_test202.pcapng'))
  assert.equal(sections.recs.length, 8)
})

test('gzip is detected by magic, not by name', {skip: !HAVE_SHARED}, async (t) => {
  const dir = tempDir(t)
  const plain = readFileSync(join(SHARED, 'zeek__5-pings.pcap'))
  const disguised = join(dir, 'no-suffix.bin')
  writeFileSync(disguised, gzipSync(plain))
  const a = await readAll(disguised)
  assert.equal(a.reader.gzip, true)
  assert.deepEqual(a.recs, await readBuffer(plain))
})

test('damaged inputs give clear errors and keep what came before', async () => {
  await assert.rejects(readBuffer(Buffer.alloc(0), 'empty.pcap'), /empty\.pcap: empty file/)
  await assert.rejects(readBuffer(Buffer.from('GET / HTTP/1.1\r\n\r\nhello there world'), 'http.txt'), /http\.txt: not a pcap or pcapng capture/)
  await assert.rejects(readBuffer(pcapHeader().subarray(0, 10), 'short.pcap'), /too short/)

  const pkt = Buffer.alloc(60, 0xab)
  const good = Buffer.concat([pcapHeader(), pcapRecord(1, 1, pkt), pcapRecord(2, 2, pkt)])
  // A record cut short at the end: not handed out, counted as truncated.
  const cut = good.subarray(0, good.length - 7)
  const reader = await CaptureReader.fromSource((await bufferSource(cut)).source, 'cut.pcap')
  let n = 0
  await reader.forEach(() => n++)
  assert.equal(n, 1)
  assert.equal(reader.truncated, 1)

  // An absurd caplen stops the file with the byte offset, after the good records.
  const absurd = Buffer.concat([good, pcapRecord(3, 3, pkt, 60, 50_000_000)])
  const r2 = await CaptureReader.fromSource((await bufferSource(absurd)).source, 'absurd.pcap')
  let m = 0
  await assert.rejects(r2.forEach(() => m++), /absurd\.pcap: record caplen 50000000 .* at byte offset 176/)
  assert.equal(m, 2)

  // caplen above the snaplen is accepted and counted; an unknown link type is still read and timed.
  const lying = Buffer.concat([pcapHeader(4242, 32), pcapRecord(5, 6, pkt)])
  const r3 = await CaptureReader.fromSource((await bufferSource(lying)).source, 'lying.pcap')
  const seen: Rec[] = []
  await r3.forEach((r) => seen.push(snapshot(r)))
  assert.equal(r3.overSnaplen, 1)
  assert.equal(seen[0].link, 4242)
  assert.equal(seen[0].ts, '5.000006000')

  // A pcapng block whose length overruns the file is damage with an offset, not a crash.
  const shb = Buffer.alloc(28)
  shb.writeUInt32LE(0x0a0d0d0a, 0)
  shb.writeUInt32LE(28, 4)
  shb.writeUInt32LE(0x1a2b3c4d, 8)
  shb.writeUInt16LE(1, 12)
  shb.writeUInt32LE(28, 24)
  const overrun = Buffer.concat([shb, Buffer.from([1, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0])])
  await assert.rejects(readBuffer(overrun, 'overrun.pcapng'), /overrun\.pcapng: pcapng block length 2147483647 is invalid at byte offset 28/)
})

test('the bulk statistics scan agrees with record-by-record accumulation across buffers and odd records', async () => {
  // ~3 MiB of records of varied sizes (so records straddle the 1 MiB buffer), with the records the bulk scan must
  // leave to the general parser: over the snaplen, a fraction of 1.5 s, and a record cut short at the end.
  const parts = [pcapHeader(1, 1500)]
  let sec = 1000
  for (let i = 0; i < 6000; i++) {
    if (i === 2500) parts.push(pcapRecord(sec - 10, 5, Buffer.alloc(80, 1))) // out of order
    else if (i === 3000) parts.push(pcapRecord(sec, i, Buffer.alloc(1600, 2))) // over the snaplen
    else if (i === 4000) parts.push(pcapRecord(sec, 1_500_000, Buffer.alloc(60, 3))) // fraction ≥ 1 s
    else parts.push(pcapRecord(sec, i % 1_000_000, Buffer.alloc(40 + (i * 37) % 1400, 4), 2000))
    sec += i % 3 === 0 ? 1 : 0
  }
  parts.push(pcapRecord(sec, 0, Buffer.alloc(100, 5)).subarray(0, 50))
  const data = Buffer.concat(parts)
  const totals = async (bulk: boolean): Promise<[StatsAccumulator, CaptureReader]> => {
    const acc = new StatsAccumulator()
    const reader = await CaptureReader.fromSource((await bufferSource(data)).source, 'bulk.pcap')
    if (bulk) await reader.summarize(acc)
    else await reader.forEach((r) => acc.add(r))
    return [acc, reader]
  }
  const [bulk, bulkReader] = await totals(true)
  const [each, eachReader] = await totals(false)
  assert.deepEqual({...bulk, linkTypes: [...bulk.linkTypes]}, {...each, linkTypes: [...each.linkTypes]})
  assert.equal(bulk.packets, 6000)
  assert.equal(bulk.outOfOrder, 2) // the early record, and the one after the 1.5 s fraction carried into the seconds
  assert.equal(bulk.maxPacketSize, 1600)
  assert.deepEqual([bulk.minSec, bulk.minNsec], [1000, 0])
  assert.deepEqual([bulkReader.overSnaplen, bulkReader.truncated], [eachReader.overSnaplen, eachReader.truncated])
  assert.deepEqual([bulkReader.overSnaplen, bulkReader.truncated], [1, 1])
})

test('progress adds up to the file size, compressed bytes for gzip (map and filter)', {skip: !HAVE_SHARED}, async (t) => {
  // More than one 1 MiB buffer of compressed bytes, so progress comes in several steps.
  const gz = join(SHARED, 'mercury__4SICS-GeekLounge-151020.pcap.gz')
  const plain = join(tempDir(t), 'plain.pcap')
  writeFileSync(plain, gunzipSync(readFileSync(gz)))
  for (const path of [gz, plain]) {
    const steps: number[] = []
    await mapCapture({path, index: false}, (bytes) => steps.push(bytes))
    assert.equal(steps.reduce((a, b) => a + b, 0), statSync(path).size, `map progress of ${path}`)
    assert.ok(steps.length > 2 && steps.every((b) => b >= 0), `map progress of ${path} comes in steps`)
    let filtered = 0
    const options = {outDir: tempDir(t), rules: [{name: 'tcp', expression: 'tcp'}], gzip: false, decap: null, dedupWindowNs: null, fsync: false}
    await splitInput({path, tarball: false, baseName: 'x', options}, (bytes) => (filtered += bytes))
    assert.equal(filtered, statSync(path).size, `filter progress of ${path}`)
  }
})

test('a corrupt gzip stream is reported, not fatal', {skip: !HAVE_SHARED}, async () => {
  const gz = gzipSync(readFileSync(join(SHARED, 'tcpreplay__test.pcap')))
  const cut = gz.subarray(0, Math.floor(gz.length / 2))
  await assert.rejects(readBuffer(cut, 'cut.pcap.gz'), (e: Error) => /unexpected end of file|cut/i.test(e.message))
})
