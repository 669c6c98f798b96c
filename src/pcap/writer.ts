/*
 * pcap and pcapng writers over a buffered byte sink. Records are copied into one large buffer, so writing a
 * packet allocates nothing; the sink is flushed when the buffer fills (the caller awaits only then).
 */
import {closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import type {Writable} from 'node:stream'

/** Where bytes go: a file written atomically, or a stream such as stdout. */
export interface ByteSink {
  /** Writes or copies `chunk` before returning: the caller reuses its memory at once. */
  write(chunk: Buffer): Promise<void> | void
  /** Makes the output visible (rename for files). */
  commit(): Promise<void>
  /** Throws away what was written (removes the temp file). */
  abort(): void
}

/**
 * Writes to `path.tmp-PID-N` and renames over `path` on commit, so readers never see a partial file. With
 * `durable` (the default) the data is fsynced before the rename, so that after a crash the file is whole or absent;
 * bulk outputs that can be made again from their inputs may skip that (as tcpdump -w and tar do): an fsync runs
 * at the disk's speed, not the page cache's.
 */
export class AtomicFileSink implements ByteSink {
  private static seq = 0
  readonly tempPath: string
  private fd: number | null

  constructor(readonly path: string, private readonly durable = true) {
    this.tempPath = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${AtomicFileSink.seq++}`)
    this.fd = openSync(this.tempPath, 'wx')
  }

  write(chunk: Buffer): void {
    let off = 0
    while (off < chunk.length) off += writeSync(this.fd!, chunk, off, chunk.length - off)
  }

  async commit(): Promise<void> {
    if (this.fd === null) return
    if (this.durable) fsyncSync(this.fd)
    closeSync(this.fd)
    this.fd = null
    renameSync(this.tempPath, this.path)
  }

  abort(): void {
    if (this.fd !== null) closeSync(this.fd)
    this.fd = null
    rmSync(this.tempPath, {force: true})
  }
}

/** Writes to a stream (stdout), honouring backpressure; a closed pipe (EPIPE) ends the output quietly. */
export class StreamSink implements ByteSink {
  closed = false

  constructor(private readonly stream: Writable) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') this.closed = true
    })
  }

  write(chunk: Buffer): Promise<void> | void {
    if (this.closed) return
    if (!this.stream.write(Buffer.from(chunk))) {
      return new Promise((resolve) => {
        const done = (): void => {
          this.stream.off('drain', done)
          this.stream.off('error', done)
          resolve()
        }
        this.stream.on('drain', done)
        this.stream.on('error', done)
      })
    }
  }

  async commit(): Promise<void> {}

  abort(): void {}
}

const BUFFER_SIZE = 1 << 20

/** The packet fields a writer needs; PacketRecord satisfies it. */
export interface WritablePacket {
  buf: Buffer
  dataStart: number
  caplen: number
  origLen: number
  tsSec: number
  tsNsec: number
  linkType: number
  /** False for records that carry no timestamp (pcapng SPB); absent means true. */
  hasTs?: boolean
}

abstract class BufferedWriter {
  protected out = Buffer.allocUnsafe(BUFFER_SIZE)
  protected used = 0

  constructor(protected readonly sink: ByteSink) {}

  /** Returns a promise only when the buffer had to be flushed; await it then. */
  abstract write(p: WritablePacket): Promise<void> | void

  protected reserve(n: number): Promise<void> | void {
    if (this.used + n <= this.out.length) return
    const pending = this.flush()
    if (n > this.out.length) this.out = Buffer.allocUnsafe(n)
    return pending
  }

  protected flush(): Promise<void> | void {
    if (this.used === 0) return
    // Sinks are done with a chunk when write returns (StreamSink copies it), so the buffer is reused.
    const chunk = this.out.subarray(0, this.used)
    this.used = 0
    return this.sink.write(chunk)
  }

  async close(): Promise<void> {
    await this.flush()
    await this.sink.commit()
  }

  abort(): void {
    this.sink.abort()
  }
}

/** Classic pcap (little-endian), µs or ns as asked: keep the source's precision. Holds one link type. */
export class PcapWriter extends BufferedWriter {
  constructor(sink: ByteSink, readonly linkType: number, readonly snaplen: number, readonly nsec: boolean) {
    super(sink)
    const h = this.out
    h.writeUInt32LE(nsec ? 0xa1b23c4d : 0xa1b2c3d4, 0)
    h.writeUInt16LE(2, 4)
    h.writeUInt16LE(4, 6)
    h.writeInt32LE(0, 8)
    h.writeUInt32LE(0, 12)
    h.writeUInt32LE(snaplen, 16)
    h.writeUInt32LE(linkType, 20)
    this.used = 24
  }

  write(p: WritablePacket): Promise<void> | void {
    if (p.linkType !== this.linkType) {
      throw new Error(`a classic pcap holds one link type (${this.linkType}); got ${p.linkType}: write pcapng instead`)
    }
    const pending = this.reserve(16 + p.caplen)
    const o = this.out
    const u = this.used
    o.writeUInt32LE(p.tsSec >>> 0, u)
    o.writeUInt32LE(this.nsec ? p.tsNsec : Math.floor(p.tsNsec / 1000), u + 4)
    o.writeUInt32LE(p.caplen, u + 8)
    o.writeUInt32LE(p.origLen, u + 12)
    p.buf.copy(o, u + 16, p.dataStart, p.dataStart + p.caplen)
    this.used = u + 16 + p.caplen
    return pending
  }

  /**
   * Appends records that are already in this file's format (16-byte little-endian headers, this precision): bytes
   * [start, end) of `buf`. A filter passing runs of records through unchanged copies each run once.
   */
  writeRecords(buf: Buffer, start: number, end: number): Promise<void> | void {
    const n = end - start
    const pending = this.reserve(n)
    buf.copy(this.out, this.used, start, end)
    this.used += n
    return pending
  }
}

/**
 * pcapng (little-endian, one section), one interface per link type, nanosecond timestamps. Interfaces declare
 * snaplen 0 (no limit): sources whose records exceed their declared snaplen would otherwise be refused by libpcap.
 */
export class PcapngWriter extends BufferedWriter {
  private readonly ifByLink = new Map<number, number>()

  constructor(sink: ByteSink, application = 'pcapkit') {
    super(sink)
    const opt = Buffer.from(application)
    const optLen = 4 + ((opt.length + 3) & ~3) + 4
    const len = 28 + optLen + 4
    const o = this.out
    o.writeUInt32LE(0x0a0d0d0a, 0)
    o.writeUInt32LE(len, 4)
    o.writeUInt32LE(0x1a2b3c4d, 8)
    o.writeUInt16LE(1, 12)
    o.writeUInt16LE(0, 14)
    o.writeInt32LE(-1, 16) // section length unknown
    o.writeInt32LE(-1, 20)
    o.writeUInt16LE(4, 24) // shb_userappl
    o.writeUInt16LE(opt.length, 26)
    o.fill(0, 28, 28 + optLen - 4)
    opt.copy(o, 28)
    o.writeUInt32LE(0, 24 + optLen) // opt_endofopt
    o.writeUInt32LE(len, len - 4)
    this.used = len
  }

  private interfaceFor(linkType: number): number {
    let id = this.ifByLink.get(linkType)
    if (id !== undefined) return id
    id = this.ifByLink.size
    this.ifByLink.set(linkType, id)
    void this.reserve(32) // never flushes a pending packet mid-way: only called before a packet's reserve
    const o = this.out
    const u = this.used
    o.writeUInt32LE(1, u)
    o.writeUInt32LE(32, u + 4)
    o.writeUInt16LE(linkType, u + 8)
    o.writeUInt16LE(0, u + 10)
    o.writeUInt32LE(0, u + 12)
    o.writeUInt16LE(9, u + 16) // if_tsresol = 10^-9
    o.writeUInt16LE(1, u + 18)
    o.writeUInt32LE(9, u + 20)
    o.writeUInt32LE(0, u + 24) // opt_endofopt
    o.writeUInt32LE(32, u + 28)
    this.used = u + 32
    return id
  }

  write(p: WritablePacket): Promise<void> | void {
    const id = this.interfaceFor(p.linkType)
    const padded = (p.caplen + 3) & ~3
    // An SPB's captured length is implied by its original length (snaplen 0): only write one where that is exact.
    if (p.hasTs === false && id === 0 && p.caplen === p.origLen) return this.writeSimple(p, padded)
    const len = 32 + padded
    const pending = this.reserve(len)
    const o = this.out
    const u = this.used
    const hi = nsHigh(p.tsSec, p.tsNsec)
    const lo = nsLow
    o.writeUInt32LE(6, u)
    o.writeUInt32LE(len, u + 4)
    o.writeUInt32LE(id, u + 8)
    o.writeUInt32LE(hi >>> 0, u + 12)
    o.writeUInt32LE(lo >>> 0, u + 16)
    o.writeUInt32LE(p.caplen, u + 20)
    o.writeUInt32LE(p.origLen, u + 24)
    p.buf.copy(o, u + 28, p.dataStart, p.dataStart + p.caplen)
    o.fill(0, u + 28 + p.caplen, u + 28 + padded)
    o.writeUInt32LE(len, u + 28 + padded)
    this.used = u + len
    return pending
  }

  /** A record without a timestamp stays one: a Simple Packet Block (interface 0 only, by the format). */
  private writeSimple(p: WritablePacket, padded: number): Promise<void> | void {
    const len = 16 + padded
    const pending = this.reserve(len)
    const o = this.out
    const u = this.used
    o.writeUInt32LE(3, u)
    o.writeUInt32LE(len, u + 4)
    o.writeUInt32LE(p.origLen, u + 8)
    p.buf.copy(o, u + 12, p.dataStart, p.dataStart + p.caplen)
    o.fill(0, u + 12 + p.caplen, u + 12 + padded)
    o.writeUInt32LE(len, u + 12 + padded)
    this.used = u + len
    return pending
  }
}

let nsLow = 0

/**
 * Splits sec * 1e9 + ns into 32-bit halves exactly without BigInt (no per-packet allocation): base-2^16 long
 * multiplication keeps every partial product below 2^53. Returns the high half; the low half is left in nsLow.
 */
function nsHigh(sec: number, ns: number): number {
  const s0 = sec % 65536
  const s1 = Math.floor(sec / 65536) % 65536
  const s2 = Math.floor(sec / 4294967296)
  let t = s0 * 1e9 + ns
  const d0 = t % 65536
  t = s1 * 1e9 + Math.floor(t / 65536)
  const d1 = t % 65536
  t = s2 * 1e9 + Math.floor(t / 65536)
  nsLow = d1 * 65536 + d0
  return t
}
