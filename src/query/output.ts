/* Where query results go: a pcap/pcapng stream (file or stdout), or one text/JSON line per packet. */
import {Fields, LAYER} from '../decode/fields.js'
import {decode} from '../decode/decode.js'
import {formatRfc3339} from '../dataset/timefmt.js'
import type {PacketRecord} from '../pcap/reader.js'
import {AtomicFileSink, PcapWriter, PcapngWriter, StreamSink, type ByteSink} from '../pcap/writer.js'

export type OutputFormat = 'pcap' | 'pcapng' | 'text' | 'json'

export interface PacketOutput {
  write(rec: PacketRecord, file: string): Promise<void> | void
  close(): Promise<void>
  abort(): void
}

export function ip4Text(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`
}

/** RFC 5952 text: the longest run of two or more zero groups becomes '::'. */
export function ip6Text(words: ArrayLike<number>): string {
  const groups: number[] = []
  for (let i = 0; i < 4; i++) groups.push(words[i] >>> 16, words[i] & 0xffff)
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) [best, bestLen] = [i, j - i]
    i = j
  }
  const hexes = groups.map((g) => g.toString(16))
  if (best < 0) return hexes.join(':')
  return `${hexes.slice(0, best).join(':')}::${hexes.slice(best + bestLen).join(':')}`
}

export function macText(hi: number, lo: number): string {
  const b = [hi >>> 8, hi & 255, lo >>> 24, (lo >>> 16) & 255, (lo >>> 8) & 255, lo & 255]
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':')
}

const PROTO_NAMES: Record<number, string> = {1: 'ICMP', 6: 'tcp', 17: 'UDP', 58: 'ICMP6', 132: 'sctp', 47: 'GRE', 2: 'IGMP'}

/** The decoded addressing of a packet as plain values, for text and JSON lines. */
export function describePacket(f: Fields): {ipVersion: number; src: string | null; dst: string | null; sport: number | null; dport: number | null; proto: number | null} {
  const ports = (f.layers & (LAYER.TCP | LAYER.UDP | LAYER.SCTP)) !== 0
  if (f.layers & LAYER.IPV4) {
    return {ipVersion: 4, src: ip4Text(f.ip4Src), dst: ip4Text(f.ip4Dst), sport: ports ? f.srcPort : null, dport: ports ? f.dstPort : null, proto: f.ipProto}
  }
  if (f.layers & LAYER.IPV6) {
    return {ipVersion: 6, src: ip6Text(f.ip6Src), dst: ip6Text(f.ip6Dst), sport: ports ? f.srcPort : null, dport: ports ? f.dstPort : null, proto: f.ipProto}
  }
  if (f.layers & LAYER.ARP) return {ipVersion: 0, src: ip4Text(f.arpSenderIp), dst: ip4Text(f.arpTargetIp), sport: null, dport: null, proto: null}
  return {ipVersion: 0, src: null, dst: null, sport: null, dport: null, proto: null}
}

/** One line per packet in the spirit of `tcpdump -q -nn -tttt`. */
export function textLine(rec: PacketRecord, f: Fields): string {
  const time = formatRfc3339([rec.tsSec, rec.tsNsec], 9).replace('T', ' ').replace('Z', '')
  const d = describePacket(f)
  const len = rec.origLen
  if (d.ipVersion !== 0) {
    const at = (addr: string | null, port: number | null): string => (port === null ? `${addr}` : `${addr}.${port}`)
    const proto = PROTO_NAMES[d.proto ?? -1] ?? `ip-proto-${d.proto}`
    return `${time} ${d.ipVersion === 4 ? 'IP' : 'IP6'} ${at(d.src, d.sport)} > ${at(d.dst, d.dport)}: ${proto}, length ${len}`
  }
  if (f.layers & LAYER.ARP) return `${time} ARP, ${d.src} > ${d.dst}, length ${len}`
  if (f.layers & LAYER.MAC) return `${time} ${macText(f.macSrcHi, f.macSrcLo)} > ${macText(f.macDstHi, f.macDstLo)}, ethertype 0x${f.etherType.toString(16).padStart(4, '0')}, length ${len}`
  return `${time} link-type ${rec.linkType}, length ${len}`
}

export function jsonLine(rec: PacketRecord, f: Fields, file: string): string {
  const d = describePacket(f)
  return JSON.stringify({
    time: formatRfc3339([rec.tsSec, rec.tsNsec], 9), epoch: `${rec.tsSec}.${String(rec.tsNsec).padStart(9, '0')}`,
    src: d.src, dst: d.dst, sport: d.sport, dport: d.dport, proto: d.proto, ip_version: d.ipVersion || null,
    vlan: f.layers & LAYER.VLAN ? Array.from(f.vlanIds.subarray(0, Math.min(f.vlanCount, f.vlanIds.length))) : [],
    length: rec.origLen, caplen: rec.caplen, link_type: rec.linkType, file, offset: rec.offset,
  })
}

/** Text or JSON lines on a stream, with backpressure. */
class LineOutput implements PacketOutput {
  private readonly fields = new Fields()

  constructor(private readonly sink: ByteSink, private readonly json: boolean) {}

  write(rec: PacketRecord, file: string): Promise<void> | void {
    decode(rec.buf, rec.dataStart, rec.caplen, rec.linkType, this.fields, rec.origLen)
    const line = this.json ? jsonLine(rec, this.fields, file) : textLine(rec, this.fields)
    return this.sink.write(Buffer.from(line + '\n'))
  }

  close(): Promise<void> {
    return this.sink.commit()
  }

  abort(): void {
    this.sink.abort()
  }
}

class CaptureOutput implements PacketOutput {
  constructor(private readonly writer: PcapWriter | PcapngWriter) {}

  write(rec: PacketRecord): Promise<void> | void {
    return this.writer.write(rec)
  }

  close(): Promise<void> {
    return this.writer.close()
  }

  abort(): void {
    this.writer.abort()
  }
}

export interface CaptureChoice {
  format: 'pcap' | 'pcapng'
  linkType: number
  nanosecond: boolean
  snaplen: number
}

/**
 * Classic pcap when the sources hold one and the same link type, pcapng when they mix them or it is not known
 * (scanned pcapng files); nanosecond pcap when any source has nanoseconds.
 */
export function captureChoiceFor(sources: {linkTypes: number[]; nanosecond: boolean; snaplen: number}[]): CaptureChoice & {mixed: boolean} {
  const links = new Set(sources.flatMap((s) => s.linkTypes))
  const single = links.size <= 1 && sources.every((s) => s.linkTypes.length > 0)
  return {
    format: single ? 'pcap' : 'pcapng',
    mixed: !single,
    linkType: [...links][0] ?? 1,
    nanosecond: sources.some((s) => s.nanosecond),
    snaplen: Math.max(65535, ...sources.map((s) => s.snaplen)),
  }
}

/**
 * Opens the output: `path` '-' (or undefined) is stdout. Capture files are written to a temp name and renamed
 * when complete, so an interrupted query never leaves a partial file under the asked name.
 */
export function openOutput(format: OutputFormat, path: string | undefined, capture: CaptureChoice): PacketOutput {
  const sink: ByteSink = !path || path === '-' ? new StreamSink(process.stdout) : new AtomicFileSink(path)
  if (format === 'text' || format === 'json') return new LineOutput(sink, format === 'json')
  const writer = capture.format === 'pcap'
    ? new PcapWriter(sink, capture.linkType, capture.snaplen, capture.nanosecond)
    : new PcapngWriter(sink)
  return new CaptureOutput(writer)
}
