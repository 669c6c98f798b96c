import {createRequire} from 'node:module'
import type {HeaderAccumulator, PacketRecord, PcapRecordLayout} from '../pcap/reader.js'
import type {FlowColumns} from '../index/flow-key.js'
import {encodeFileIndex, type EncodedFileIndex} from '../index/layout.js'
import type {StatsAccumulator} from './file-stats.js'

/** native/index_native.c: decodes records and files them under their flows, a run of pcap records per call. */
interface IndexNative {
  create(): unknown
  addRun(table: unknown, bytes: Uint8Array, pos: number, end: number, base: number, littleEndian: boolean,
    fractionScale: number, headerLength: number, linkType: number): void
  addRecord(table: unknown, buf: Uint8Array, dataStart: number, caplen: number, linkType: number, origLen: number,
    sec: number, nsec: number, offset: number, recordLen: number): void
  finish(table: unknown): FileFlows
}

/** A file's flows, and the offset of each group of records followed by the end of the last record. */
export interface FileFlows extends FlowColumns {
  groupStarts: Float64Array
}

let native: IndexNative | undefined

function indexNative(): IndexNative {
  try {
    native ??= createRequire(import.meta.url)('../../native/build/Release/index_native.node') as IndexNative
  } catch (e) {
    throw new Error(`the index builder (native/index_native.c) is not built: run \`npm run build\`, or map with --no-index (${(e as Error).message.split('\n')[0]})`)
  }
  return native
}

/**
 * map's accumulator when it indexes: the file's statistics, and every record filed under its flow by the native
 * flow table. Whole runs of ordinary pcap records go over in one call each; other records one by one.
 */
export class FlowIndexer implements HeaderAccumulator {
  private readonly native = indexNative()
  private readonly table = this.native.create()
  /** The reader's buffer as bytes (it changes only when the reader grows it). */
  private view: DataView | null = null
  private bytes: Uint8Array = new Uint8Array(0)

  constructor(private readonly stats: StatsAccumulator) {}

  add(rec: PacketRecord): void {
    this.stats.add(rec)
    this.native.addRecord(this.table, rec.buf, rec.dataStart, rec.caplen, rec.linkType, rec.origLen,
      rec.hasTs ? rec.tsSec : -1, rec.tsNsec, rec.offset, rec.recordLen)
  }

  addPcapRecords(view: DataView, pos: number, end: number, layout: PcapRecordLayout, base: number): number {
    const stop = this.stats.addPcapRecords(view, pos, end, layout)
    if (stop === pos) return stop
    if (view !== this.view) {
      this.view = view
      this.bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
    }
    this.native.addRun(this.table, this.bytes, pos, stop, base, layout.littleEndian, layout.fractionScale,
      layout.headerLength, layout.linkType)
    return stop
  }

  /** The flows and group offsets; the table is freed. */
  finish(): FileFlows {
    return this.native.finish(this.table)
  }

  /** The index values, encoded here in the worker, not on the single LevelDB writer. */
  encode(): EncodedFileIndex {
    const flows = this.finish()
    return encodeFileIndex(flows, flows.groupStarts)
  }
}
