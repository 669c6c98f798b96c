/*
 * Streaming reader for classic pcap (µs/ns, both byte orders, Kuznetzov) and pcapng (all sections, EPB/SPB/PB).
 * Written by hand because no npm package reads both formats in bounded memory without per-packet objects:
 * records are parsed straight out of a large reused buffer and exposed through one reused PacketRecord.
 */
import {open as openFile} from 'node:fs/promises'
import {FileSource, openSource, type ByteSource} from './source.js'
import {CaptureError} from './errors.js'

export type CaptureFormat = 'pcap' | 'pcapng'
export type ByteOrder = 'little-endian' | 'big-endian'

/** The current record. Its bytes are buf[dataStart, dataStart + caplen) and stay valid until the next record. */
export class PacketRecord {
  buf: Buffer = Buffer.alloc(0)
  dataStart = 0
  caplen = 0
  origLen = 0
  /** Seconds since the epoch (exact: a double holds any 2^53 integer) and nanoseconds, never one float. */
  tsSec = 0
  tsNsec = 0
  /** False for pcapng Simple Packet Blocks, which carry no timestamp. */
  hasTs = true
  linkType = 0
  /** Interface id across the whole file (pcapng sections are numbered on), 0 in classic pcap. */
  ifIndex = 0
  /** Byte offset of the record's header in the (uncompressed) stream. */
  offset = 0
  /** Length of the whole record (header + data + padding) in the stream. */
  recordLen = 0
}

export interface SectionInfo {
  offset: number
  littleEndian: boolean
  ifBase: number
}

/** What is needed to parse a record found by offset, without reading the file from its start. */
export interface ReaderState {
  format: CaptureFormat
  littleEndian: boolean
  nanosecond: boolean
  recordHeaderLength: number
  snaplen: number
  interfaces: InterfaceInfo[]
  sections: SectionInfo[]
}

/** How the ordinary records of a classic pcap file are laid out, for consumers that scan their headers in bulk. */
export interface PcapRecordLayout {
  littleEndian: boolean
  /** 1 for nanosecond files, 1000 for microsecond ones. */
  fractionScale: number
  /** 16, or 24 in Kuznetzov's format. */
  headerLength: number
  /** Records longer than this (over the snaplen, or damage) are left to the general path. */
  maxCaplen: number
  linkType: number
}

/** A consumer of record headers only (map's statistics): it takes whole runs of ordinary records at once. */
export interface HeaderAccumulator {
  add(rec: PacketRecord): void
  /**
   * Takes the complete records from `pos` on whose caplen is at most layout.maxCaplen and whose fraction is below
   * one second, stopping at the first other one or the end of the bytes; returns the offset where it stopped.
   * Header fields: seconds, fraction, caplen, original length (u32 each). `base`: the file offset of view byte 0.
   */
  addPcapRecords(view: DataView, pos: number, end: number, layout: PcapRecordLayout, base: number): number
}

export interface InterfaceInfo {
  linkType: number
  snaplen: number
  /** Timestamp units per second: 10^n or 2^n. */
  unitsPerSec: number
  /** if_tsoffset: seconds added to every timestamp. */
  tsOffset: number
}

const CHUNK = 1 << 20
const RANDOM_ACCESS_CHUNK = 64 << 10
/** Smallest read when jumping: one page-cache page covers a typical packet record. */
const MIN_RANDOM_READ = 4096
/** Largest record we accept; wiretap's largest per-link maximum (D-Bus/USB) is 128 MiB. */
export const MAX_RECORD = 128 << 20
/** Beyond this a classic pcap caplen is treated as damage unless the link type allows more (wiretap's default). */
const MAX_SNAPLEN_DEFAULT = 262144
const BIG_LINKTYPES: Record<number, number> = {231: 128 << 20, 249: 128 << 20, 279: 8 << 20}

const PCAP_MAGIC_US = 0xa1b2c3d4
const PCAP_MAGIC_NS = 0xa1b23c4d
const PCAP_MAGIC_KUZNETZOV = 0xa1b2cd34
const PCAPNG_SHB = 0x0a0d0d0a
const PCAPNG_BOM = 0x1a2b3c4d
const BT_IDB = 1
const BT_PB = 2
const BT_SPB = 3
const BT_EPB = 6

/** parseNext() results: a record is ready, more bytes are needed (fill, then try again), or the file is done. */
export const NEED = 0
export const GOT = 1
export const DONE = -1

export function maxCaplenFor(linkType: number): number {
  return BIG_LINKTYPES[linkType] ?? MAX_SNAPLEN_DEFAULT
}

export class CaptureReader {
  readonly rec = new PacketRecord()
  format: CaptureFormat = 'pcap'
  byteOrder: ByteOrder = 'little-endian'
  /** 'us', 'ns', or another resolution name; 'mixed' when pcapng interfaces differ. */
  tsPrecision = 'us'
  snaplen = 0
  gzip = false
  versionMajor = 0
  versionMinor = 0
  readonly interfaces: InterfaceInfo[] = []
  /** Records whose caplen exceeds the snaplen declared for them (accepted). */
  overSnaplen = 0
  /** A final record cut short by the end of the file (not handed out). */
  truncated = 0
  /** Bytes of the truncated tail. */
  truncatedBytes = 0
  /** pcapng sections: where each starts, its byte order and its first interface index. */
  readonly sections: SectionInfo[] = []

  private buf: Buffer = Buffer.allocUnsafe(CHUNK)
  /** DataView over buf: its reads are inlined by V8, unlike Buffer's range-checked readUInt32LE. */
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength)
  /** Bytes one read may fetch: the whole buffer when streaming, what seekTo was told it needs when jumping. */
  private readLimit = Infinity
  /** Classic pcap's one link type, kept in a field: the hot loop reads no array. */
  private pcapLinkType = 0
  /** Largest caplen accepted for classic pcap, fixed per file (a per-record lookup showed in profiles). */
  private caplenLimit = MAX_SNAPLEN_DEFAULT
  private pos = 0
  private end = 0
  /** Stream offset of buf[0]. */
  private base = 0
  private eof = false
  private le = true
  private nsec = false
  private recHdrLen = 16
  private ifBase = 0 // first interface index of the current pcapng section

  private constructor(readonly name: string, private readonly source: ByteSource) {}

  /** Opens a capture and reads its file header; throws CaptureError for empty files and wrong magic. */
  static async open(path: string, name = path): Promise<CaptureReader> {
    const {source, gzip} = await openSource(path)
    return CaptureReader.fromSource(source, name, gzip)
  }

  static async fromSource(source: ByteSource, name: string, gzip = false): Promise<CaptureReader> {
    const r = new CaptureReader(name, source)
    r.gzip = gzip
    try {
      await r.readHeader()
    } catch (e) {
      await source.close()
      throw e
    }
    return r
  }

  close(): Promise<void> {
    return this.source.close()
  }

  /** The parsing state after a full pass, for reading single records later (see resume). */
  state(): ReaderState {
    return {
      format: this.format, littleEndian: this.le, nanosecond: this.nsec, recordHeaderLength: this.recHdrLen,
      snaplen: this.snaplen, interfaces: this.interfaces, sections: this.sections,
    }
  }

  /**
   * Opens an uncompressed capture for random access with a state saved by state(): seekTo(offset) then next()
   * reads the record there. Reads are small (64 KiB) since the wanted records may be far apart.
   */
  static async resume(path: string, state: ReaderState): Promise<CaptureReader> {
    const fh = await openFile(path, 'r')
    const r = new CaptureReader(path, new FileSource(fh))
    r.buf = Buffer.allocUnsafe(RANDOM_ACCESS_CHUNK)
    r.view = new DataView(r.buf.buffer, r.buf.byteOffset, r.buf.byteLength)
    r.format = state.format
    r.le = state.littleEndian
    r.nsec = state.nanosecond
    r.recHdrLen = state.recordHeaderLength
    r.snaplen = state.snaplen
    r.interfaces.push(...state.interfaces)
    r.sections.push(...state.sections)
    if (state.format === 'pcap') r.usePcapLinkType(state.interfaces[0].linkType)
    return r
  }

  /**
   * Positions the reader on the record at `offset`, reusing buffered bytes when they cover it. `span`: how many
   * bytes from there the caller expects to want (up to its last nearby record), so a sparse jump reads a few KiB
   * rather than a whole buffer; a longer record is still read whole.
   */
  seekTo(offset: number, span = RANDOM_ACCESS_CHUNK): void {
    if (offset >= this.base && offset < this.base + this.end) {
      this.pos = offset - this.base
    } else {
      (this.source as FileSource).position = offset
      this.base = offset
      this.pos = 0
      this.end = 0
      this.eof = false
      this.readLimit = Math.max(MIN_RANDOM_READ, span)
    }
    if (this.format === 'pcapng') {
      let lo = 0
      for (let hi = this.sections.length - 1; lo < hi;) {
        const mid = (lo + hi + 1) >> 1
        if (this.sections[mid].offset <= offset) lo = mid
        else hi = mid - 1
      }
      const section = this.sections[lo]
      if (section) {
        this.le = section.littleEndian
        this.ifBase = section.ifBase
      }
    }
  }

  /** Bytes of a classic pcap record header: 16, or 24 in Kuznetzov's modified format. */
  get recordHeaderLength(): number {
    return this.recHdrLen
  }

  /** Stream offset of the next unparsed byte. */
  get position(): number {
    return this.base + this.pos
  }

  /**
   * A beforeRefill hook for progress: reports the input bytes (compressed ones for gzip, so that they add up to the
   * file's size) taken since it last ran. Run it once more at the end for the rest.
   */
  progressHook(onBytes: (bytes: number) => void): () => void {
    let reported = 0
    return () => {
      const at = this.source.consumed
      onBytes(at - reported)
      reported = at
    }
  }

  /**
   * Calls `onRecord` for every record with the reused `rec`, in file order. Damage that stops the file
   * throws a CaptureError naming the file and byte offset, after the records before it were delivered.
   * `beforeRefill` runs before the buffer is refilled: until then every record delivered since the last refill is
   * still in place, so a caller may copy runs of records at once.
   */
  async forEach(onRecord: (rec: PacketRecord) => void, beforeRefill?: () => void): Promise<void> {
    const pcap = this.format === 'pcap'
    for (;;) {
      // Walk every complete record of the buffer in one synchronous loop; I/O only between buffers.
      let r = pcap ? this.parsePcapRecord() : this.parsePcapngBlock()
      while (r === GOT) {
        onRecord(this.rec)
        r = pcap ? this.parsePcapRecord() : this.parsePcapngBlock()
      }
      if (r === DONE) return
      // Last moment the delivered records' bytes are where rec.buf said (fill moves them).
      beforeRefill?.()
      if (!(await this.fill())) this.eof = true
    }
  }

  /**
   * forEach for a consumer of headers only. In classic pcap the accumulator walks runs of ordinary records straight
   * from the buffer with its totals in local variables (map spent ~60 % of its parse time storing into `rec` and
   * the accumulator's fields); any other record (split by the buffer end, over the snaplen, damaged) goes through
   * the general parser, so errors and counts are the same as forEach's.
   */
  async summarize(acc: HeaderAccumulator, beforeRefill?: () => void): Promise<void> {
    if (this.format !== 'pcap') return this.forEach((rec) => acc.add(rec), beforeRefill)
    const layout: PcapRecordLayout = {
      littleEndian: this.le, fractionScale: this.nsec ? 1 : 1000, headerLength: this.recHdrLen,
      maxCaplen: Math.min(this.caplenLimit, this.snaplen), linkType: this.pcapLinkType,
    }
    for (;;) {
      this.pos = acc.addPcapRecords(this.view, this.pos, this.end, layout, this.base)
      const r = this.parsePcapRecord()
      if (r === GOT) {
        acc.add(this.rec)
        continue
      }
      if (r === DONE) return
      beforeRefill?.()
      if (!(await this.fill())) this.eof = true
    }
  }

  /** Pull interface for merges: true with `rec` filled, false at the end. */
  async next(): Promise<boolean> {
    for (;;) {
      const r = this.parseNext()
      if (r === GOT) return true
      if (r === DONE) return false
      if (!(await this.fill())) this.eof = true
    }
  }

  /** Parses the next record from the buffer without I/O: GOT, NEED (more bytes) or DONE. */
  parseNext(): number {
    return this.format === 'pcap' ? this.parsePcapRecord() : this.parsePcapngBlock()
  }

  private fail(message: string, offset = this.position): never {
    throw new CaptureError(`${this.name}: ${message} at byte offset ${offset}`, 'DAMAGED', this.name, offset)
  }

  private async fill(): Promise<boolean> {
    const keep = this.end - this.pos
    if (this.pos > 0) {
      this.buf.copy(this.buf, 0, this.pos, this.end)
      this.base += this.pos
      this.pos = 0
      this.end = keep
    }
    if (this.end === this.buf.length) return false // caller asked for more than a full buffer: see need()
    const n = await this.source.read(this.buf, this.end, Math.min(this.buf.length - this.end, this.readLimit))
    this.end += n
    return n > 0
  }

  /** Ensures the buffer can hold a record of `len` bytes; returns NEED, or handles EOF for a partial record. */
  private need(len: number): number {
    if (len > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(len, this.buf.length * 2))
      this.buf.copy(bigger, 0, this.pos, this.end)
      this.base += this.pos
      this.end -= this.pos
      this.pos = 0
      this.buf = bigger
      this.view = new DataView(bigger.buffer, bigger.byteOffset, bigger.byteLength)
    }
    if (!this.eof) return NEED
    const left = this.end - this.pos
    if (left === 0) return DONE
    this.truncated = 1
    this.truncatedBytes = left
    this.pos = this.end
    return DONE
  }

  private u32(off: number): number {
    return this.view.getUint32(off, this.le)
  }

  private u16(off: number): number {
    return this.view.getUint16(off, this.le)
  }

  private async readHeader(): Promise<void> {
    while (this.end < 24 && !this.eof) if (!(await this.fill())) this.eof = true
    if (this.end === 0) throw new CaptureError(`${this.name}: empty file`, 'EMPTY', this.name, 0)
    if (this.end < 4) this.fail('file too short for any capture header', 0)
    const magicLE = this.buf.readUInt32LE(0)
    const magicBE = this.buf.readUInt32BE(0)
    if (magicLE === PCAPNG_SHB) {
      this.format = 'pcapng'
      // Byte order comes from the SHB, read with the first block.
      if (this.end < 12) this.fail('file too short for a pcapng section header', 0)
      this.le = this.buf.readUInt32LE(8) === PCAPNG_BOM
      this.byteOrder = this.le ? 'little-endian' : 'big-endian'
      return
    }
    let magic: number
    if ([PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_KUZNETZOV].includes(magicLE)) {
      this.le = true
      magic = magicLE
    } else if ([PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_KUZNETZOV].includes(magicBE)) {
      this.le = false
      magic = magicBE
    } else {
      throw new CaptureError(
        `${this.name}: not a pcap or pcapng capture (magic 0x${magicBE.toString(16).padStart(8, '0')})`,
        'BAD_MAGIC', this.name, 0)
    }
    if (this.end < 24) this.fail('file too short for a pcap file header', 0)
    this.byteOrder = this.le ? 'little-endian' : 'big-endian'
    this.nsec = magic === PCAP_MAGIC_NS
    this.tsPrecision = this.nsec ? 'ns' : 'us'
    this.recHdrLen = magic === PCAP_MAGIC_KUZNETZOV ? 24 : 16
    this.versionMajor = this.u16(4)
    this.versionMinor = this.u16(6)
    if (this.versionMajor !== 2) this.fail(`unsupported pcap version ${this.versionMajor}.${this.versionMinor}`, 4)
    this.snaplen = this.u32(16)
    // pcap-linktype(7): bits 0-15 link type, 16-25 reserved (must be zero), 26-31 FCS information.
    const linkWord = this.u32(20)
    if (linkWord & 0x03ff0000) {
      this.fail(`link-type field has reserved bits set (0x${linkWord.toString(16).padStart(8, '0')})`, 20)
    }
    const linkType = linkWord & 0xffff
    this.interfaces.push({linkType, snaplen: this.snaplen, unitsPerSec: this.nsec ? 1e9 : 1e6, tsOffset: 0})
    this.usePcapLinkType(linkType)
    this.pos = 24
  }

  /** Classic pcap: the file's one link type, and the largest caplen that is not damage for it. */
  private usePcapLinkType(linkType: number): void {
    this.pcapLinkType = linkType
    this.caplenLimit = Math.min(Math.max(maxCaplenFor(linkType), this.snaplen), MAX_RECORD)
  }

  private parsePcapRecord(): number {
    const hl = this.recHdrLen
    const p = this.pos
    if (this.end - p < hl) return this.need(hl)
    const caplen = this.u32(p + 8)
    if (caplen > this.caplenLimit) {
      this.fail(`record caplen ${caplen} is larger than any valid packet (snaplen ${this.snaplen})`, this.base + p)
    }
    if (this.end - p < hl + caplen) return this.need(hl + caplen)
    const rec = this.rec
    let sec = this.u32(p)
    let nsec = this.nsec ? this.u32(p + 4) : this.u32(p + 4) * 1000
    if (nsec >= 1e9) {
      // Invalid fractions (>= 1 s) are carried into the seconds so that every timestamp we hand out is valid.
      sec += Math.floor(nsec / 1e9)
      nsec %= 1e9
    }
    rec.buf = this.buf
    rec.tsSec = sec
    rec.tsNsec = nsec
    rec.hasTs = true
    rec.caplen = caplen
    rec.origLen = this.u32(p + 12)
    rec.linkType = this.pcapLinkType
    rec.dataStart = p + hl
    rec.offset = this.base + p
    rec.recordLen = hl + caplen
    if (caplen > this.snaplen) this.overSnaplen++
    this.pos = p + hl + caplen
    return GOT
  }

  private parsePcapngBlock(): number {
    for (;;) {
      const p = this.pos
      if (this.end - p < 12) return this.need(12)
      const type = this.u32(p)
      if (type === PCAPNG_SHB) {
        // Each section may switch byte order.
        const bom = this.buf.readUInt32LE(p + 8)
        if (bom === PCAPNG_BOM) this.le = true
        else if (this.buf.readUInt32BE(p + 8) === PCAPNG_BOM) this.le = false
        else this.fail('pcapng section header with a bad byte-order magic', this.base + p)
      }
      const len = this.u32(p + 4)
      if (len < 12 || len % 4 !== 0 || len > MAX_RECORD) {
        this.fail(`pcapng block length ${len} is invalid`, this.base + p)
      }
      if (this.end - p < len) return this.need(len)
      if (this.u32(p + len - 4) !== len) this.fail(`pcapng block length ${len} does not match its trailer`, this.base + p)
      this.pos = p + len
      switch (type) {
        case PCAPNG_SHB:
          this.readShb(p, len)
          break
        case BT_IDB:
          this.readIdb(p, len)
          break
        case BT_EPB:
          return this.readPacketBlock(p, len, this.u32(p + 8))
        case BT_PB:
          return this.readPacketBlock(p, len, this.u16(p + 8)) // obsolete PB: same layout, 16-bit id
        case BT_SPB:
          return this.readSimplePacket(p, len)
        default:
          break // Unknown or irrelevant blocks (NRB, ISB, DSB, custom…) are skipped by their length.
      }
    }
  }

  private readShb(p: number, len: number): void {
    if (len < 28) this.fail(`pcapng section header of length ${len} is too short`, this.base + p)
    const major = this.u16(p + 12)
    const minor = this.u16(p + 14)
    if (major !== 1) this.fail(`unsupported pcapng version ${major}.${minor}`, this.base + p)
    if (this.interfaces.length === 0) {
      this.versionMajor = major
      this.versionMinor = minor
    }
    this.sections.push({offset: this.base + p, littleEndian: this.le, ifBase: this.interfaces.length})
    this.walkOptions(p + 24, p + len - 4, () => {})
    this.ifBase = this.interfaces.length
  }

  /** Visits the options of a block body, failing when one overruns the block (as wiretap does). */
  private walkOptions(start: number, end: number, visit: (code: number, at: number, len: number) => void): void {
    let o = start
    while (o + 4 <= end) {
      const code = this.u16(o)
      const olen = this.u16(o + 2)
      if (code === 0) return
      if (o + 4 + olen > end) this.fail(`pcapng option ${code} of length ${olen} overruns its block`, this.base + o)
      visit(code, o + 4, olen)
      o += 4 + ((olen + 3) & ~3)
    }
  }

  private readIdb(p: number, len: number): void {
    if (len < 20) this.fail(`pcapng interface block of length ${len} is too short`, this.base + p)
    const info: InterfaceInfo = {linkType: this.u16(p + 8), snaplen: this.u32(p + 12), unitsPerSec: 1e6, tsOffset: 0}
    this.walkOptions(p + 16, p + len - 4, (code, at, olen) => {
      if (code === 9 && olen >= 1) {
        const v = this.buf[at]
        info.unitsPerSec = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v
      } else if (code === 14 && olen >= 8) {
        const hi = this.le ? this.buf.readInt32LE(at + 4) : this.buf.readInt32BE(at)
        const lo = this.le ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at + 4)
        info.tsOffset = hi * 4294967296 + lo
      }
    })
    this.interfaces.push(info)
    if (this.interfaces.length === 1) this.snaplen = info.snaplen
    const prec = precisionName(info.unitsPerSec)
    this.tsPrecision = this.interfaces.length === 1 || this.tsPrecision === prec ? prec : 'mixed'
  }

  private iface(id: number, p: number): InterfaceInfo {
    const info = this.interfaces[this.ifBase + id]
    if (info === undefined || this.ifBase + id >= this.interfaces.length) {
      this.fail(`packet block names interface ${id}, which was not described`, this.base + p)
    }
    return info
  }

  private readPacketBlock(p: number, len: number, id: number): number {
    const capOff = 20
    const dataOff = 28
    if (len < dataOff + 4) this.fail(`pcapng packet block of length ${len} is too short`, this.base + p)
    const info = this.iface(id, p)
    const caplen = this.u32(p + capOff)
    if (dataOff + caplen + 4 > len) this.fail(`captured length ${caplen} overruns its pcapng block`, this.base + p)
    const rec = this.rec
    rec.buf = this.buf
    setTimestamp(rec, this.u32(p + 12), this.u32(p + 16), info)
    rec.hasTs = true
    rec.caplen = caplen
    rec.origLen = this.u32(p + capOff + 4)
    rec.dataStart = p + dataOff
    rec.linkType = info.linkType
    rec.ifIndex = this.ifBase + id
    rec.offset = this.base + p
    rec.recordLen = len
    if (info.snaplen !== 0 && caplen > info.snaplen) this.overSnaplen++
    return GOT
  }

  private readSimplePacket(p: number, len: number): number {
    if (len < 16) this.fail(`pcapng simple packet block of length ${len} is too short`, this.base + p)
    const info = this.iface(0, p)
    const origLen = this.u32(p + 8)
    let caplen = Math.min(origLen, len - 16)
    if (info.snaplen !== 0) caplen = Math.min(caplen, info.snaplen)
    const rec = this.rec
    rec.buf = this.buf
    rec.tsSec = 0
    rec.tsNsec = 0
    rec.hasTs = false
    rec.caplen = caplen
    rec.origLen = origLen
    rec.dataStart = p + 12
    rec.linkType = info.linkType
    rec.ifIndex = this.ifBase
    rec.offset = this.base + p
    rec.recordLen = len
    return GOT
  }
}

function precisionName(unitsPerSec: number): string {
  switch (unitsPerSec) {
    case 1: return 's'
    case 1e3: return 'ms'
    case 1e6: return 'us'
    case 1e9: return 'ns'
    default: return Number.isInteger(Math.log2(unitsPerSec)) ? `2^-${Math.log2(unitsPerSec)}s` : `1e-${Math.round(Math.log10(unitsPerSec))}s`
  }
}

/**
 * Splits a 64-bit count of units into seconds and nanoseconds exactly, without BigInt (no per-packet allocation):
 * long division by 16-bit digits keeps every intermediate below 2^53.
 */
function setTimestamp(rec: PacketRecord, hi: number, lo: number, info: InterfaceInfo): void {
  const d = info.unitsPerSec
  let q = 0
  let r = 0
  if (d <= 2 ** 36) {
    const digits0 = hi >>> 16
    const digits1 = hi & 0xffff
    const digits2 = lo >>> 16
    const digits3 = lo & 0xffff
    let cur = digits0
    let qd = Math.floor(cur / d); r = cur - qd * d; q = qd
    cur = r * 65536 + digits1; qd = Math.floor(cur / d); r = cur - qd * d; q = q * 65536 + qd
    cur = r * 65536 + digits2; qd = Math.floor(cur / d); r = cur - qd * d; q = q * 65536 + qd
    cur = r * 65536 + digits3; qd = Math.floor(cur / d); r = cur - qd * d; q = q * 65536 + qd
  } else {
    const big = (BigInt(hi) << 32n) | BigInt(lo)
    q = Number(big / BigInt(d))
    r = Number(big % BigInt(d))
  }
  rec.tsSec = q + info.tsOffset
  // r < d: scale the fraction to ns (exact for 10^n, n <= 9, and 2^n, n <= 9; truncated beyond, as wiretap does).
  rec.tsNsec = d === 1e9 ? r : d < 1e9 && 1e9 % d === 0 ? r * (1e9 / d) : Math.floor((r * 1e9) / d)
}
