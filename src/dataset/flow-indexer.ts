import type {PacketRecord} from '../pcap/reader.js'
import {decode} from '../decode/decode.js'
import {Fields} from '../decode/fields.js'
import {FlowKeyWriter, FlowTable, GROUP_RECORDS} from '../index/flow-table.js'
import {encodeFileIndex, type EncodedFileIndex} from '../index/layout.js'

/** Decodes each record into one reused Fields and files it under its flow: nothing allocated per packet. */
export class FlowIndexer {
  readonly table = new FlowTable()
  private readonly fields = new Fields()
  private readonly key = new FlowKeyWriter()
  /** Records seen: the next record's number. */
  private records = 0
  /** Byte offset of the first record of each group of GROUP_RECORDS. */
  private groupStarts = new Float64Array(1024)
  /** Where the last record read ends: the index never sends a query past it (into damage, say). */
  private end = 0

  add(rec: PacketRecord): void {
    const n = this.records++
    const group = Math.floor(n / GROUP_RECORDS)
    this.end = rec.offset + rec.recordLen
    if (n % GROUP_RECORDS === 0) this.startGroup(group, rec.offset)
    decode(rec.buf, rec.dataStart, rec.caplen, rec.linkType, this.fields, rec.origLen)
    this.key.write(this.fields)
    this.table.add(this.key.words, group, rec.origLen, rec.hasTs ? rec.tsSec : -1, rec.tsNsec)
  }

  private startGroup(group: number, offset: number): void {
    if (group + 1 >= this.groupStarts.length) {
      const bigger = new Float64Array(group * 2)
      bigger.set(this.groupStarts)
      this.groupStarts = bigger
    }
    this.groupStarts[group] = offset
  }

  /**
   * The flows, postings and group starts (then the end of the last record) as index values: done here, in the
   * worker, not on the single LevelDB writer.
   */
  encode(): EncodedFileIndex {
    const groups = Math.ceil(this.records / GROUP_RECORDS)
    this.groupStarts[groups] = this.end
    return encodeFileIndex(this.table.columns(), this.groupStarts.subarray(0, groups + 1))
  }
}
