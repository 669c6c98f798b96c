/*
 * The output files of one input: OUT/RULE/<input base>.pcap[ng][.gz], one per rule, opened at the rule's first
 * matching packet (a rule that matches nothing leaves no file), written atomically (temp + rename on close).
 */
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'
import {AtomicFileSink, PcapWriter, PcapngWriter, type ByteSink, type WritablePacket} from '../pcap/writer.js'

/** What the output format is decided from: classic pcap in and link types unchanged → classic pcap out. */
export interface OutputShape {
  classic: boolean
  snaplen: number
  nanosecond: boolean
}

/**
 * Gzips each chunk the writer flushes as its own gzip member: concatenated members are one valid gzip file (RFC 1952
 * §2.2; gunzip, zcat, libpcap, Wireshark and our reader read them), and the sink stays synchronous.
 */
class GzipFileSink implements ByteSink {
  private readonly file: AtomicFileSink

  constructor(path: string, durable: boolean) {
    this.file = new AtomicFileSink(path, durable)
  }

  write(chunk: Buffer): void {
    this.file.write(gzipSync(chunk, {level: 1}))
  }

  commit(): Promise<void> {
    return this.file.commit()
  }

  abort(): void {
    this.file.abort()
  }
}

export class RuleOutputs {
  private readonly writers: (PcapWriter | PcapngWriter | null)[]
  /** Files written (committed), with their rule, for the report. */
  readonly written: {rule: string; path: string}[] = []
  private readonly pending: string[] = []

  constructor(
    private readonly outDir: string,
    private readonly ruleNames: string[],
    /** The input's base name without capture suffixes. */
    private readonly baseName: string,
    private readonly shape: OutputShape,
    private readonly gzip: boolean,
    /** fsync each file before it is renamed into place. */
    private readonly durable: boolean,
  ) {
    this.writers = ruleNames.map(() => null)
  }

  /** Writes `p` to rule `i`'s file. The sinks are synchronous, so this never waits. */
  write(i: number, p: WritablePacket): void {
    const w = this.writers[i] ?? this.open(i, p.linkType)
    w.write(p)
  }

  /** Writes records already in the classic output's format (see RecordRuns) to rule `i`'s file. */
  writeRecords(i: number, buf: Buffer, start: number, end: number, linkType: number): void {
    const w = this.writers[i] ?? this.open(i, linkType)
    if (!(w instanceof PcapWriter)) throw new Error('records pass through to classic pcap outputs only')
    w.writeRecords(buf, start, end)
  }

  private open(i: number, linkType: number): PcapWriter | PcapngWriter {
    const dir = join(this.outDir, this.ruleNames[i])
    mkdirSync(dir, {recursive: true})
    const path = join(dir, `${this.baseName}${this.shape.classic ? '.pcap' : '.pcapng'}${this.gzip ? '.gz' : ''}`)
    const sink = this.gzip ? new GzipFileSink(path, this.durable) : new AtomicFileSink(path, this.durable)
    const w = this.shape.classic ? new PcapWriter(sink, linkType, this.shape.snaplen, this.shape.nanosecond) : new PcapngWriter(sink)
    this.writers[i] = w
    this.pending[i] = path
    return w
  }

  async close(): Promise<void> {
    for (let i = 0; i < this.writers.length; i++) {
      const w = this.writers[i]
      if (!w) continue
      await w.close()
      this.written.push({rule: this.ruleNames[i], path: this.pending[i]})
    }
  }

  abort(): void {
    for (const w of this.writers) w?.abort()
  }
}
