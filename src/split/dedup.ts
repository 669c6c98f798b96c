/*
 * Duplicate-packet removal for `pcapkit filter --dedup`. A duplicate is the same packet seen again within a window
 * of PACKET time (the same frame captured on two taps, or a capture merged with itself): equal apart from what
 * changes hop by hop. So the hash covers the IP packet with the IPv4 TTL and header checksum (IPv6: hop limit)
 * masked, and leaves out the link layer (MAC addresses, VLAN tags, trailers); non-IP frames are hashed without their
 * Ethernet addresses. Two 32-bit murmur3 lanes with different seeds make a 53-bit key: at a million packets per window
 * the chance of a false duplicate stays below 1e-4.
 *
 * Aging uses two generations of one window each (the current one and the one before), swapped as packet time
 * advances: lookups see every packet of the last window, memory stays bounded by two windows of traffic, and wall-clock
 * speed of the run never matters (gopherCap ages its buckets by wall-clock time, so its result depends on how fast
 * it reads).
 */
import {LAYER, type Fields} from '../decode/fields.js'
import type {WritablePacket} from '../pcap/writer.js'

const IPV4_TTL = 8
const IPV4_CHECKSUM = 10
const IPV6_HOP_LIMIT = 7
const IPV6_HEADER = 40
const MAC_ADDRESSES = 12
const SEED_A = 0x9747b28c
const SEED_B = 0x5bd1e995

export class Deduplicator {
  /** Packets found to be duplicates so far. */
  duplicates = 0
  private current = new Map<number, number>()
  private previous = new Map<number, number>()
  /** Packet time (ns, as a double: ~256 ns resolution today, plenty for ms windows) the current generation began. */
  private generationStart = -Infinity
  /** The masked IP header, so the packet buffer itself is never modified. */
  private readonly header = new Uint8Array(60)
  private laneA = 0
  private laneB = 0

  constructor(private readonly windowNs: number) {}

  /** True when `p` (decoded into `fields`) repeats a packet seen within the window; otherwise remembers it. */
  isDuplicate(p: WritablePacket, fields: Fields): boolean {
    const t = p.tsSec * 1e9 + p.tsNsec
    this.age(t)
    this.hashPacket(p, fields)
    const key = (this.laneA >>> 0) * 2097152 + (this.laneB >>> 11)
    const seen = this.current.get(key) ?? this.previous.get(key)
    if (seen !== undefined && Math.abs(t - seen) <= this.windowNs) {
      this.duplicates++
      return true
    }
    this.current.set(key, t)
    return false
  }

  private age(t: number): void {
    if (t - this.generationStart < this.windowNs) return
    this.previous.clear()
    if (t - this.generationStart < 2 * this.windowNs) {
      const swap = this.previous
      this.previous = this.current
      this.current = swap
    } else {
      this.current.clear()
    }
    this.generationStart = t
  }

  private hashPacket(p: WritablePacket, f: Fields): void {
    const buf = p.buf
    const capEnd = p.dataStart + p.caplen
    this.laneA = SEED_A
    this.laneB = SEED_B
    if ((f.layers & (LAYER.IPV4 | LAYER.IPV6)) === 0) {
      const from = (f.layers & LAYER.MAC) !== 0 ? p.dataStart + MAC_ADDRESSES : p.dataStart
      this.mix(buf, from, capEnd)
      this.finish(capEnd - from)
      return
    }
    const l3 = f.l3Offset
    const v4 = (f.layers & LAYER.IPV4) !== 0
    const declared = v4 ? (buf[l3] & 0x0f) * 4 : IPV6_HEADER
    const ipLength = v4 ? (buf[l3 + 2] << 8) | buf[l3 + 3] : IPV6_HEADER + ((buf[l3 + 4] << 8) | buf[l3 + 5])
    // A zero length field (TSO, jumbograms) means the packet runs to the end of the capture.
    const end = ipLength >= declared ? Math.min(l3 + ipLength, capEnd) : capEnd
    // Header lengths are multiples of 4, so the body continues on a word boundary unless the header was cut short
    // (and then there is no body).
    const headerLen = Math.min(declared, end - l3)
    const h = this.header
    for (let i = 0; i < headerLen; i++) h[i] = buf[l3 + i]
    if (v4) {
      h[IPV4_TTL] = 0
      h[IPV4_CHECKSUM] = 0
      h[IPV4_CHECKSUM + 1] = 0
    } else {
      h[IPV6_HOP_LIMIT] = 0
    }
    this.mix(h, 0, headerLen)
    this.mix(buf, l3 + headerLen, end)
    this.finish(end - l3)
  }

  /** murmur3_32's block step over bytes [from, to) for both lanes; a partial last word is the tail step. */
  private mix(b: Uint8Array, from: number, to: number): void {
    let a = this.laneA
    let c = this.laneB
    let i = from
    for (; i + 4 <= to; i += 4) {
      const k = scramble((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3])
      a ^= k
      a = (a << 13) | (a >>> 19)
      a = (Math.imul(a, 5) + 0xe6546b64) | 0
      c ^= k
      c = (c << 13) | (c >>> 19)
      c = (Math.imul(c, 5) + 0xe6546b64) | 0
    }
    if (i < to) {
      let k = 0
      for (let s = 24; i < to; i++, s -= 8) k |= b[i] << s
      k = scramble(k)
      a ^= k
      c ^= k
    }
    this.laneA = a
    this.laneB = c
  }

  private finish(length: number): void {
    this.laneA = fmix(this.laneA ^ length)
    this.laneB = fmix(this.laneB ^ length)
  }
}

function scramble(k: number): number {
  k = Math.imul(k, 0xcc9e2d51)
  k = (k << 15) | (k >>> 17)
  return Math.imul(k, 0x1b873593)
}

function fmix(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}
