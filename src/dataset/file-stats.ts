import type {CaptureReader, HeaderAccumulator, PacketRecord, PcapRecordLayout} from '../pcap/reader.js'
import {linkTypeName} from '../pcap/linktype.js'

/** What `map` learns about one capture: plain data, so it crosses worker threads and lands in the JSON. */
export interface CaptureSummary {
  packets: number
  /** Sum of captured lengths. */
  size: number
  /** Sum of original lengths (capinfos' "Data size"). */
  dataSize: number
  maxPacketSize: number
  snaplen: number
  /** Earliest and latest timestamps as [seconds, nanoseconds], null when no record has one. */
  first: [number, number] | null
  last: [number, number] | null
  outOfOrder: number
  /** Records without a timestamp (pcapng Simple Packet Blocks). */
  untimed: number
  format: string
  byteOrder: string
  tsPrecision: string
  gzip: boolean
  linkTypes: {id: number; name: string}[]
  truncated: number
  overSnaplen: number
  error: string | null
}

/** Accumulates per-record figures without allocating: called once per packet on the hot path. */
export class StatsAccumulator implements HeaderAccumulator {
  packets = 0
  size = 0
  dataSize = 0
  maxPacketSize = 0
  minSec = Infinity
  minNsec = 0
  maxSec = -Infinity
  maxNsec = 0
  prevSec = -Infinity
  prevNsec = 0
  outOfOrder = 0
  untimed = 0
  readonly linkTypes = new Set<number>()
  private lastLink = -1

  add(rec: PacketRecord): void {
    this.packets++
    const caplen = rec.caplen
    this.size += caplen
    this.dataSize += rec.origLen
    if (caplen > this.maxPacketSize) this.maxPacketSize = caplen
    if (rec.linkType !== this.lastLink) {
      this.linkTypes.add(rec.linkType)
      this.lastLink = rec.linkType
    }
    if (!rec.hasTs) {
      this.untimed++
      return
    }
    const s = rec.tsSec
    const ns = rec.tsNsec
    if (s > this.prevSec || (s === this.prevSec && ns >= this.prevNsec)) {
      // In order (the common case): only the maximum can move, since the minimum is at most the previous time.
      if (s > this.maxSec || (s === this.maxSec && ns > this.maxNsec)) {
        this.maxSec = s
        this.maxNsec = ns
      }
      if (this.minSec === Infinity) {
        this.minSec = s
        this.minNsec = ns
      }
    } else {
      // Earlier than the previous record: only the minimum can move, since the maximum is at least the previous.
      this.outOfOrder++
      if (s < this.minSec || (s === this.minSec && ns < this.minNsec)) {
        this.minSec = s
        this.minNsec = ns
      }
    }
    this.prevSec = s
    this.prevNsec = ns
  }

  /** add() over a run of classic pcap records, with the totals in locals (see CaptureReader.summarize). */
  addPcapRecords(view: DataView, pos: number, end: number, layout: PcapRecordLayout): number {
    const {littleEndian: le, fractionScale, headerLength: hl, maxCaplen} = layout
    let p = pos
    let packets = this.packets, size = this.size, dataSize = this.dataSize, maxPacketSize = this.maxPacketSize
    let minSec = this.minSec, minNsec = this.minNsec, maxSec = this.maxSec, maxNsec = this.maxNsec
    let prevSec = this.prevSec, prevNsec = this.prevNsec, outOfOrder = this.outOfOrder
    while (end - p >= hl) {
      const caplen = view.getUint32(p + 8, le)
      if (caplen > maxCaplen || end - p < hl + caplen) break
      const s = view.getUint32(p, le)
      const ns = view.getUint32(p + 4, le) * fractionScale
      if (ns >= 1e9) break
      packets++
      size += caplen
      dataSize += view.getUint32(p + 12, le)
      if (caplen > maxPacketSize) maxPacketSize = caplen
      // The same order logic as add().
      if (s > prevSec || (s === prevSec && ns >= prevNsec)) {
        if (s > maxSec || (s === maxSec && ns > maxNsec)) {
          maxSec = s
          maxNsec = ns
        }
        if (minSec === Infinity) {
          minSec = s
          minNsec = ns
        }
      } else {
        outOfOrder++
        if (s < minSec || (s === minSec && ns < minNsec)) {
          minSec = s
          minNsec = ns
        }
      }
      prevSec = s
      prevNsec = ns
      p += hl + caplen
    }
    if (p !== pos && layout.linkType !== this.lastLink) {
      this.linkTypes.add(layout.linkType)
      this.lastLink = layout.linkType
    }
    this.packets = packets
    this.size = size
    this.dataSize = dataSize
    this.maxPacketSize = maxPacketSize
    this.minSec = minSec
    this.minNsec = minNsec
    this.maxSec = maxSec
    this.maxNsec = maxNsec
    this.prevSec = prevSec
    this.prevNsec = prevNsec
    this.outOfOrder = outOfOrder
    return p
  }
}

/** Builds the summary from what was read; `reader` is null when the file could not even be opened. */
export function finishSummary(reader: CaptureReader | null, acc: StatsAccumulator, error: string | null): CaptureSummary {
  const types = acc.linkTypes.size > 0 ? [...acc.linkTypes] : reader?.interfaces.map((i) => i.linkType) ?? []
  return {
    packets: acc.packets,
    size: acc.size,
    dataSize: acc.dataSize,
    maxPacketSize: acc.maxPacketSize,
    snaplen: reader?.snaplen ?? 0,
    first: acc.minSec === Infinity ? null : [acc.minSec, acc.minNsec],
    last: acc.maxSec === -Infinity ? null : [acc.maxSec, acc.maxNsec],
    outOfOrder: acc.outOfOrder,
    untimed: acc.untimed,
    format: reader?.format ?? 'unknown',
    byteOrder: reader?.byteOrder ?? 'unknown',
    tsPrecision: reader?.tsPrecision ?? 'unknown',
    gzip: reader?.gzip ?? false,
    linkTypes: [...new Set(types)].sort((a, b) => a - b).map((id) => ({id, name: linkTypeName(id)})),
    truncated: reader?.truncated ?? 0,
    overSnaplen: reader?.overSnaplen ?? 0,
    error,
  }
}
