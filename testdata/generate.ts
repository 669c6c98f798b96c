/*
 * Writes the small captures in testdata/ with our own writer, so the project has fixtures it made itself (no copies
 * of public captures). Deterministic: no clock, no Math.random; run `node --import tsx testdata/generate.ts` and the
 * files come out byte-identical.
 *
 *   gaps-ns.pcap        classic pcap, nanosecond, Ethernet: a TCP (HTTP) session, DNS over UDP, IPv6 UDP echo and
 *                       802.1Q (VLAN 100) syslog, interleaved, with gaps from 0.1 ms to 1 s and odd ns digits
 *   mixed-links.pcapng  pcapng, nanosecond: the same IPv4 packets alternately as Ethernet and raw IPv4 (two IDBs)
 *   small.pcap.gz       gzip of a microsecond Ethernet pcap (the first packets of gaps-ns.pcap at µs precision)
 *
 * Addresses are the documentation ranges (192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32, MAC 00:00:5e:00:53:xx) and
 * every IPv4/TCP/UDP checksum is correct, so tcpdump -vv prints them without complaint.
 */
import {gzipSync} from 'node:zlib'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {AtomicFileSink, PcapWriter, PcapngWriter, type ByteSink, type WritablePacket} from '../src/pcap/writer.js'

const DIR = dirname(fileURLToPath(import.meta.url))
const LINKTYPE_ETHERNET = 1
const LINKTYPE_RAW = 101
/** 2024-02-29T12:00:00Z plus odd nanoseconds, so a reader that drops digits shows it. */
const START_SEC = 1709208000
const START_NSEC = 123456789

// ---- packet building ----

function internetChecksum(...parts: Buffer[]): number {
  let sum = 0
  for (const p of parts) {
    for (let i = 0; i < p.length; i += 2) sum += (p[i] << 8) | (i + 1 < p.length ? p[i + 1] : 0)
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

function ipv4Bytes(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number))
}

function ipv6Bytes(a: string): Buffer {
  const [head, tail = ''] = a.split('::')
  const groups = (s: string): number[] => (s ? s.split(':').map((g) => parseInt(g, 16)) : [])
  const h = groups(head)
  const t = groups(tail)
  const all = [...h, ...new Array(8 - h.length - t.length).fill(0), ...t]
  const b = Buffer.alloc(16)
  all.forEach((g, i) => b.writeUInt16BE(g, i * 2))
  return b
}

const mac = (n: number): Buffer => Buffer.from([0x00, 0x00, 0x5e, 0x00, 0x53, n])

/** An Ethernet frame; with `vlan`, an 802.1Q tag goes before `etherType`, which then names the inner protocol. */
function ethernet(src: number, dst: number, etherType: number, payload: Buffer, vlan?: number): Buffer {
  const tag = vlan === undefined ? Buffer.alloc(0) : Buffer.from([0x81, 0x00, (vlan >> 8) & 0x0f, vlan & 0xff])
  const type = Buffer.alloc(2)
  type.writeUInt16BE(etherType)
  return Buffer.concat([mac(dst), mac(src), tag, type, payload])
}

interface L3 {
  /** Wraps a transport segment in this network header. */
  wrap(proto: number, segment: Buffer): Buffer
  /** The pseudo-header TCP and UDP checksums cover. */
  pseudo(proto: number, length: number): Buffer
  etherType: number
}

let ipId = 0x1000

function ipv4(src: string, dst: string): L3 {
  const s = ipv4Bytes(src)
  const d = ipv4Bytes(dst)
  return {
    etherType: 0x0800,
    wrap(proto, segment) {
      const h = Buffer.alloc(20)
      h[0] = 0x45
      h.writeUInt16BE(20 + segment.length, 2)
      h.writeUInt16BE(ipId++ & 0xffff, 4)
      h.writeUInt16BE(0x4000, 6) // don't fragment
      h[8] = 64
      h[9] = proto
      s.copy(h, 12)
      d.copy(h, 16)
      h.writeUInt16BE(internetChecksum(h), 10)
      return Buffer.concat([h, segment])
    },
    pseudo(proto, length) {
      const p = Buffer.alloc(12)
      s.copy(p, 0)
      d.copy(p, 4)
      p[9] = proto
      p.writeUInt16BE(length, 10)
      return p
    },
  }
}

function ipv6(src: string, dst: string): L3 {
  const s = ipv6Bytes(src)
  const d = ipv6Bytes(dst)
  return {
    etherType: 0x86dd,
    wrap(proto, segment) {
      const h = Buffer.alloc(40)
      h.writeUInt32BE(0x60000000, 0)
      h.writeUInt16BE(segment.length, 4)
      h[6] = proto
      h[7] = 64
      s.copy(h, 8)
      d.copy(h, 24)
      return Buffer.concat([h, segment])
    },
    pseudo(proto, length) {
      const p = Buffer.alloc(40)
      s.copy(p, 0)
      d.copy(p, 16)
      p.writeUInt32BE(length, 32)
      p[39] = proto
      return p
    },
  }
}

const PROTO_TCP = 6
const PROTO_UDP = 17

function udp(l3: L3, sport: number, dport: number, payload: Buffer): Buffer {
  const u = Buffer.alloc(8)
  u.writeUInt16BE(sport, 0)
  u.writeUInt16BE(dport, 2)
  u.writeUInt16BE(8 + payload.length, 4)
  const seg = Buffer.concat([u, payload])
  seg.writeUInt16BE(internetChecksum(l3.pseudo(PROTO_UDP, seg.length), seg) || 0xffff, 6)
  return l3.wrap(PROTO_UDP, seg)
}

const SYN = 0x02
const ACK = 0x10
const PSH = 0x08
const FIN = 0x01

function tcp(l3: L3, sport: number, dport: number, seq: number, ack: number, flags: number, payload = Buffer.alloc(0)): Buffer {
  const t = Buffer.alloc(20)
  t.writeUInt16BE(sport, 0)
  t.writeUInt16BE(dport, 2)
  t.writeUInt32BE(seq >>> 0, 4)
  t.writeUInt32BE(ack >>> 0, 8)
  t[12] = 5 << 4
  t[13] = flags
  t.writeUInt16BE(64240, 14)
  const seg = Buffer.concat([t, payload])
  seg.writeUInt16BE(internetChecksum(l3.pseudo(PROTO_TCP, seg.length), seg), 16)
  return l3.wrap(PROTO_TCP, seg)
}

/** A TCP conversation client → server: handshake, one request and response, and an orderly close. */
function httpSession(): Buffer[] {
  const c = ipv4('198.51.100.20', '192.0.2.10')
  const s = ipv4('192.0.2.10', '198.51.100.20')
  const cp = 49152
  const request = Buffer.from('GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: pcapkit-testdata\r\n\r\n')
  const body = 'x'.repeat(1200)
  const response = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
  let cs = 1000
  let ss = 5000
  const eth = (fromClient: boolean, ip: Buffer): Buffer => ethernet(fromClient ? 1 : 2, fromClient ? 2 : 1, 0x0800, ip)
  const out = [
    eth(true, tcp(c, cp, 80, cs, 0, SYN)),
    eth(false, tcp(s, 80, cp, ss, cs + 1, SYN | ACK)),
    eth(true, tcp(c, cp, 80, ++cs, ++ss, ACK)),
    eth(true, tcp(c, cp, 80, cs, ss, PSH | ACK, request)),
  ]
  cs += request.length
  out.push(eth(false, tcp(s, 80, cp, ss, cs, ACK)))
  out.push(eth(false, tcp(s, 80, cp, ss, cs, PSH | ACK, response)))
  ss += response.length
  out.push(eth(true, tcp(c, cp, 80, cs, ss, ACK)))
  out.push(eth(true, tcp(c, cp, 80, cs, ss, FIN | ACK)))
  out.push(eth(false, tcp(s, 80, cp, ss, cs + 1, FIN | ACK)))
  out.push(eth(true, tcp(c, cp, 80, cs + 1, ss + 1, ACK)))
  return out
}

function dnsName(name: string): Buffer {
  return Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])])
}

/** DNS A queries for a few names and their answers (addresses in 192.0.2.0/24). */
function dnsExchanges(): Buffer[] {
  const names = ['www.example.com', 'mail.example.org', 'ns1.example.net', 'api.example.com']
  const out: Buffer[] = []
  names.forEach((name, i) => {
    const id = 0x4a00 + i
    const question = Buffer.concat([dnsName(name), Buffer.from([0, 1, 0, 1])])
    const header = (flags: number, answers: number): Buffer => {
      const h = Buffer.alloc(12)
      h.writeUInt16BE(id, 0)
      h.writeUInt16BE(flags, 2)
      h.writeUInt16BE(1, 4)
      h.writeUInt16BE(answers, 6)
      return h
    }
    const answer = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 80 + i])
    const client = `198.51.100.${30 + i}`
    const port = 40000 + i * 7
    out.push(ethernet(3, 4, 0x0800, udp(ipv4(client, '192.0.2.53'), port, 53, Buffer.concat([header(0x0100, 0), question]))))
    out.push(ethernet(4, 3, 0x0800, udp(ipv4('192.0.2.53', client), 53, port, Buffer.concat([header(0x8180, 1), question, answer]))))
  })
  return out
}

/** UDP echo (port 7) over IPv6: requests and replies of growing size. */
function ipv6Echo(): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < 6; i++) {
    const payload = Buffer.alloc(16 + i * 100, 0x61 + i)
    out.push(ethernet(5, 6, 0x86dd, udp(ipv6('2001:db8::1', '2001:db8::2'), 33000, 7, payload)))
    out.push(ethernet(6, 5, 0x86dd, udp(ipv6('2001:db8::2', '2001:db8::1'), 7, 33000, payload)))
  }
  return out
}

/** Syslog over UDP inside an 802.1Q tag (VLAN 100). */
function vlanSyslog(): Buffer[] {
  return Array.from({length: 6}, (_, i) => {
    const msg = Buffer.from(`<134>Feb 29 12:00:0${i} host${i} pcapkit: test message ${i}`)
    return ethernet(7, 8, 0x0800, udp(ipv4('192.0.2.11', '198.51.100.22'), 514, 514, msg), 100)
  })
}

/** Deals the conversations out in turns, so flows interleave as on a real link. */
function interleave(flows: Buffer[][]): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; flows.some((f) => i < f.length); i++) for (const f of flows) if (i < f.length) out.push(f[i])
  return out
}

// ---- timing ----

/**
 * Gaps from 0.1 ms to 1 s spread evenly on a log scale by the golden-ratio sequence (deterministic, no PRNG),
 * each with nanosecond digits.
 */
function gapNs(i: number): number {
  const frac = (i * 0.6180339887498949) % 1
  return Math.round(10 ** (5 + 4 * frac)) + (i * 7919) % 1000
}

function timed(packets: Buffer[], linkTypes: (i: number) => number, strip: (i: number, p: Buffer) => Buffer): WritablePacket[] {
  let sec = START_SEC
  let nsec = START_NSEC
  return packets.map((p, i) => {
    if (i > 0) {
      nsec += gapNs(i)
      sec += Math.floor(nsec / 1e9)
      nsec %= 1e9
    }
    const data = strip(i, p)
    return {buf: data, dataStart: 0, caplen: data.length, origLen: data.length, tsSec: sec, tsNsec: nsec, linkType: linkTypes(i)}
  })
}

// ---- files ----

/** Collects a writer's output in memory (for gzip). */
class MemorySink implements ByteSink {
  readonly chunks: Buffer[] = []
  write(chunk: Buffer): void {
    this.chunks.push(chunk)
  }
  async commit(): Promise<void> {}
  abort(): void {}
}

async function writeAll(writer: PcapWriter | PcapngWriter, packets: WritablePacket[]): Promise<void> {
  for (const p of packets) await writer.write(p)
  await writer.close()
}

async function main(): Promise<void> {
  const lan = interleave([httpSession(), dnsExchanges(), ipv6Echo(), vlanSyslog()])
  const lanTimed = timed(lan, () => LINKTYPE_ETHERNET, (_, p) => p)
  await writeAll(new PcapWriter(new AtomicFileSink(join(DIR, 'gaps-ns.pcap')), LINKTYPE_ETHERNET, 65535, true), lanTimed)

  // Odd packets lose their 14-byte Ethernet header and become raw IPv4 on a second interface.
  const v4 = interleave([httpSession(), dnsExchanges()])
  const mixed = timed(v4, (i) => (i % 2 ? LINKTYPE_RAW : LINKTYPE_ETHERNET), (i, p) => (i % 2 ? p.subarray(14) : p))
  await writeAll(new PcapngWriter(new AtomicFileSink(join(DIR, 'mixed-links.pcapng'))), mixed)

  const memory = new MemorySink()
  await writeAll(new PcapWriter(memory, LINKTYPE_ETHERNET, 65535, false), lanTimed.slice(0, 16))
  const gz = new AtomicFileSink(join(DIR, 'small.pcap.gz'))
  gz.write(gzipSync(Buffer.concat(memory.chunks), {level: 9}))
  await gz.commit()
}

await main()
