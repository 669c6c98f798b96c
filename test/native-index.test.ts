// The index builder (native/index_native.c) decodes packets with its own C header walk; the exact filter uses the
// JavaScript decoder. These tests hold the two to the same flows — keys, counts, times, record groups and group
// offsets — on every shared capture and on random packets built to end inside every header.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {CORPUS, HAVE_SHARED, SHARED, capturesIn, pcapHeader, pcapRecord, tempDir} from './helpers.js'
import {ReferenceFlows} from './support/reference-flows.js'
import {StatsAccumulator} from '../src/dataset/file-stats.js'
import {FlowIndexer, type FileFlows} from '../src/dataset/flow-indexer.js'
import {CaptureReader, PacketRecord} from '../src/pcap/reader.js'
import {W} from '../src/index/flow-key.js'

/** Native flows of `path` (read as map reads: runs of records in bulk) and the reference flows of the same records. */
async function bothWays(path: string): Promise<{got: FileFlows; want: ReferenceFlows} | null> {
  const want = new ReferenceFlows()
  const indexer = new FlowIndexer(new StatsAccumulator())
  for (const consumer of [(r: CaptureReader) => r.forEach((rec) => want.add(rec)), (r: CaptureReader) => r.summarize(indexer)]) {
    let reader: CaptureReader
    try {
      reader = await CaptureReader.open(path)
    } catch {
      return null // not a capture we read at all (covered by the reader's tests)
    }
    try {
      await consumer(reader)
    } catch {
      // damage ends both readings at the same record
    } finally {
      await reader.close()
    }
  }
  return {got: indexer.finish(), want}
}

function assertSameFlows(got: FileFlows, want: ReferenceFlows, what: string): void {
  assert.equal(got.count, want.flows.length, `${what}: flow count`)
  for (let id = 0; id < got.count; id++) {
    const w = want.flows[id]
    const g = {
      key: Array.from(got.keys.subarray(id * W.COUNT, (id + 1) * W.COUNT)),
      packets: got.packets[id], bytes: got.bytes[id], firstSec: got.firstSec[id], firstNsec: got.firstNsec[id],
      lastSec: got.lastSec[id], lastNsec: got.lastNsec[id],
      groups: Array.from(got.groups.subarray(got.groupStart[id], got.groupStart[id + 1])),
    }
    assert.deepEqual(g, w, `${what}: flow ${id}`)
  }
  assert.deepEqual(Array.from(got.groupStarts), want.offsets(), `${what}: group offsets`)
}

test('native flows equal the JavaScript decoder\'s on every shared and corpus capture', {skip: !HAVE_SHARED}, async () => {
  let files = 0
  let flows = 0
  for (const path of [...capturesIn(SHARED), ...capturesIn(CORPUS)]) {
    const both = await bothWays(path)
    if (!both) continue
    assertSameFlows(both.got, both.want, path)
    files++
    flows += both.got.count
  }
  assert.ok(files > 800 && flows > 10_000, `${files} files, ${flows} flows compared`)
})

/** Deterministic pseudo-random numbers (xorshift32): failures reproduce. */
function randomSource(seed: number): (n: number) => number {
  let x = seed
  return (n) => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) % n
  }
}

/**
 * A packet of random header chains that mostly make sense (each header names the next), with random lengths and
 * random values where the decoders must not care, so that both walk deep and then stop somewhere in the middle.
 */
function randomPacket(rand: (n: number) => number, linkType: number): Buffer {
  const bytes = (n: number) => Buffer.from(Array.from({length: n}, () => rand(256)))
  const pick = <T>(xs: T[]): T => xs[rand(xs.length)]
  const u16 = (v: number) => Buffer.from([v >> 8, v & 0xff])
  const parts: Buffer[] = []
  const etherTypes = [0x0800, 0x86dd, 0x8100, 0x88a8, 0x9100, 0x8847, 0x0806, 0x8035, rand(0x10000)]
  const ipPayload = (proto: number): void => {
    if ([6, 17, 132].includes(proto)) parts.push(bytes(rand(3) === 0 ? rand(6) : 20))
    else parts.push(bytes(rand(12)))
  }
  const ip = (version: number): void => {
    const protos = [6, 17, 132, 1, 58, 47, rand(256)]
    if (version === 4) {
      const h = bytes(20)
      h[0] = 0x40 | pick([5, 5, 5, 6, 4, rand(16)])
      // Unfragmented, MF set, DF set, the smallest non-zero offset, or anything.
      h.writeUInt16BE(pick([0x0000, 0x2000, 0x4000, 0x0001, h.readUInt16BE(6)]), 6)
      const proto = pick(protos)
      h[9] = proto
      parts.push(h, bytes(((h[0] & 0x0f) - 5 > 0 ? (h[0] & 0x0f) - 5 : 0) * 4))
      ipPayload(proto)
    } else {
      const h = bytes(40)
      h[0] = 0x60
      let next = pick([...protos, 0, 43, 60, 51, 44, 44])
      h[6] = next
      parts.push(h)
      for (let depth = 0; depth < 4 && [0, 43, 60, 51, 44].includes(next); depth++) {
        const following = pick([...protos, 0, 43, 60, 51, 44])
        if (next === 44) {
          const frag = bytes(8)
          frag[0] = following
          // Offset 0 (with or without M), the smallest non-zero offset, or anything.
          const offsetField = pick([0x0000, 0x0001, 0x0008, 0x0009, frag.readUInt16BE(2)])
          frag.writeUInt16BE(offsetField, 2)
          parts.push(frag)
        } else {
          const len = rand(3)
          const ext = bytes(next === 51 ? (len + 2) * 4 : (len + 1) * 8)
          ext[0] = following
          ext[1] = len
          parts.push(ext)
        }
        next = following
      }
      ipPayload(next)
    }
  }
  const afterType = (type: number, depth = 0): void => {
    if ([0x8100, 0x88a8, 0x9100].includes(type) && depth < 10) {
      const next = pick(etherTypes)
      parts.push(Buffer.concat([bytes(2), u16(next)]))
      return afterType(next, depth + 1)
    }
    if (type === 0x0800 || type === 0x86dd) return ip(type === 0x0800 ? 4 : 6)
    if (type === 0x0806 || type === 0x8035) {
      const hw = pick([6, 6, 0, rand(256)])
      const h = Buffer.concat([u16(1), u16(0x0800), Buffer.from([hw, pick([4, 4, 16])]), u16(rand(3)), bytes(2 * hw + 8)])
      return void parts.push(h)
    }
    if (type === 0x8847) {
      const labels = 1 + rand(6)
      for (let i = 0; i < labels; i++) {
        const e = bytes(4)
        e[2] = (e[2] & 0xfe) | (i === labels - 1 ? 1 : 0)
        parts.push(e)
      }
      return rand(4) === 0 ? void parts.push(bytes(8)) : ip(pick([4, 6]))
    }
    parts.push(bytes(rand(16)))
  }
  const le16 = (v: number) => Buffer.from([v & 0xff, v >> 8])
  const wlan = (): void => {
    // Mostly data frames (plain, QoS, null, protected, each DS combination), sometimes management or control.
    const fc0 = pick([0x08, 0x88, 0x48, 0xc8, 0x08, 0x88, 0x00, 0x80, 0xd4, rand(256)])
    const fc1 = rand(4) | (rand(5) === 0 ? 0x40 : 0) | (rand(8) === 0 ? 0x80 : 0)
    parts.push(Buffer.from([fc0, fc1]), bytes(22 + ((fc1 & 3) === 3 ? 6 : 0) + ((fc0 & 0x80) && (fc0 & 0x0c) === 0x08 ? 2 : 0)))
    if (rand(5) === 0) return void parts.push(bytes(rand(20)))
    const next = pick(etherTypes)
    parts.push(Buffer.from([0xaa, 0xaa, 0x03, 0, 0, 0]), u16(next))
    afterType(next)
  }
  const type = pick(etherTypes)
  switch (linkType) {
    case 105: wlan(); break
    case 127: {
      const len = pick([8, 12, 18, 25, 36, rand(64)])
      parts.push(Buffer.from([0, 0]), le16(len), bytes(Math.max(0, len - 4)))
      wlan()
      break
    }
    case 192: {
      const len = pick([8, 8, 20, rand(40)])
      const dlt = pick([105, 105, 1, rand(300)])
      parts.push(Buffer.from([0, 0]), le16(len), Buffer.from([dlt & 0xff, dlt >> 8, 0, 0]), bytes(Math.max(0, len - 8)))
      if (dlt === 1) {
        parts.push(bytes(12), u16(type))
        afterType(type)
      } else {
        wlan()
      }
      break
    }
    case 239: {
      parts.push(Buffer.from([pick([2, 10, rand(30)]), 0]), bytes(2))
      for (let i = rand(4); i > 0; i--) {
        const len = pick([4, 5, 8, 12, 16, rand(24)])
        parts.push(le16(len), le16(pick([1, 2, 3, 10, rand(20)])), bytes(Math.max(0, ((len + 3) & ~3) - 4)))
      }
      const payload: Buffer[] = []
      const saved = parts.splice(0)
      ip(pick([4, 6]))
      payload.push(...parts.splice(0))
      parts.push(...saved)
      const body = Buffer.concat(payload)
      parts.push(le16(pick([body.length + 4, body.length + 4, rand(body.length + 8)])), le16(9), body)
      break
    }
    case 1: parts.push(bytes(12), u16(type)); afterType(type); break
    case 113: parts.push(bytes(14), u16(type)); afterType(type); break
    case 276: parts.push(u16(type), bytes(18)); afterType(type); break
    case 0: {
      const family = pick([2, 24, 28, 30, rand(40)])
      parts.push(rand(2) ? Buffer.from([family, 0, 0, 0]) : Buffer.from([0, 0, 0, family]))
      if (family === 2) ip(4)
      else ip(6)
      break
    }
    case 101: ip(pick([4, 6])); break
    case 9: {
      const proto = pick([0x21, 0x57, 0x281, 0x0021, rand(0x10000)])
      if (rand(2)) parts.push(Buffer.from([0xff, 0x03]))
      parts.push(proto < 0x100 && rand(2) ? Buffer.from([proto]) : u16(proto))
      if (proto === 0x281) afterType(0x8847)
      else ip(proto === 0x57 ? 6 : 4)
      break
    }
  }
  const whole = Buffer.concat(parts)
  return rand(3) === 0 ? whole.subarray(0, rand(whole.length + 1)) : whole
}

test('native flows equal the JavaScript decoder\'s on random header chains cut at random lengths', async (t) => {
  const dir = tempDir(t)
  const rand = randomSource(0x5eed1234)
  for (const linkType of [1, 113, 276, 0, 101, 9, 105, 127, 192, 239]) {
    const parts = [pcapHeader(linkType)]
    for (let i = 0; i < 20_000; i++) {
      const data = randomPacket(rand, linkType)
      // Out of order on purpose: first/last must still agree.
      parts.push(pcapRecord(1_700_000_000 + rand(100), rand(1_000_000), data, data.length + rand(100)))
    }
    const path = join(dir, `random-${linkType}.pcap`)
    writeFileSync(path, Buffer.concat(parts))
    const both = await bothWays(path)
    assert.ok(both)
    assertSameFlows(both.got, both.want, path)
    assert.ok(both.got.count > 500, `link type ${linkType}: only ${both.got.count} flows`)
  }
})

test('a finished flow table lets go of its memory: using it again is an error, not a crash', async () => {
  const indexer = new FlowIndexer(new StatsAccumulator())
  const rec = Object.assign(new PacketRecord(), {buf: Buffer.alloc(60), caplen: 60, origLen: 60, linkType: 1, offset: 24, recordLen: 76})
  indexer.add(rec)
  assert.equal(indexer.finish().count, 1)
  assert.throws(() => indexer.finish(), /already finished/)
  assert.throws(() => indexer.add(rec), /bad arguments/)
})
