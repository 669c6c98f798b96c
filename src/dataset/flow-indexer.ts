import type {PacketRecord} from '../pcap/reader.js'
import {decode} from '../decode/decode.js'
import {Fields} from '../decode/fields.js'
import {FlowKeyWriter, FlowTable} from '../index/flow-table.js'
import {encodeFileIndex, type EncodedFileIndex} from '../index/layout.js'

/** Decodes each record into one reused Fields and files it under its flow: nothing allocated per packet. */
export class FlowIndexer {
  readonly table = new FlowTable()
  private readonly fields = new Fields()
  private readonly key = new FlowKeyWriter()

  add(rec: PacketRecord): void {
    decode(rec.buf, rec.dataStart, rec.caplen, rec.linkType, this.fields, rec.origLen)
    this.key.write(this.fields)
    this.table.add(this.key.words, rec.offset, rec.origLen, rec.hasTs ? rec.tsSec : -1, rec.tsNsec)
  }

  /** The flows and postings as index values (done here, in the worker, not on the single LevelDB writer). */
  encode(): EncodedFileIndex {
    return encodeFileIndex(this.table.flows())
  }
}
