/*
 * --out-bpf: which records are sent. Every record is decoded into one reused Fields and tested by the compiled
 * filter before it is paced and sent (gopherCap set the expression on its send handle, where it filters nothing).
 * The language is pcapkit's (src/filter): tcpdump's meaning for the supported subset, with its documented
 * differences (e.g. `tcp` also matches inside VLAN tags).
 */
import {ReplayError} from './errors.js'
import {decode} from '../decode/decode.js'
import {Fields} from '../decode/fields.js'
import {FilterSyntaxError, compileFilter, parseFilter} from '../filter/index.js'
import type {PacketRecord} from '../pcap/reader.js'

export type FramePredicate = (rec: PacketRecord) => boolean

export function compileOutFilter(expr: string): FramePredicate {
  let matches
  try {
    matches = compileFilter(parseFilter(expr))
  } catch (e) {
    if (e instanceof FilterSyntaxError) throw new ReplayError(`--out-bpf: ${e.message}`, 'USAGE')
    throw e
  }
  const fields = new Fields()
  return (rec) => {
    decode(rec.buf, rec.dataStart, rec.caplen, rec.linkType, fields, rec.origLen)
    return matches(fields, rec.tsSec, rec.tsNsec)
  }
}
