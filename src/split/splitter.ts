/*
 * One pass over one input (a capture, or every capture inside a tarball) for `pcapkit filter`: each packet is
 * decapsulated (optionally), checked for being a duplicate (optionally), decoded once, then offered to every rule;
 * each rule's matches go to that rule's file for this input. Runs in a worker thread per input (split-worker.ts) or
 * in the main thread with one worker.
 */
import {basename} from 'node:path'
import {CaptureReader, type PacketRecord} from '../pcap/reader.js'
import {describeError} from '../pcap/errors.js'
import {streamSource} from '../pcap/source.js'
import {Fields} from '../decode/fields.js'
import {decode} from '../decode/decode.js'
import {openTarball} from '../archive/tar-source.js'
import {tarMembers} from '../archive/tar-members.js'
import {memberName} from '../archive/member-name.js'
import {acceptsName, DEFAULT_SUFFIXES} from '../dataset/discover.js'
import {MASK_BITS} from '../filter/compile.js'
import {compileRules, type CompiledRules, type RuleSource} from './compiled-rules.js'
import {DECAP, Decapsulator, PacketView} from './decap.js'
import {Deduplicator} from './dedup.js'
import {RuleOutputs} from './rule-outputs.js'
import {RecordRuns, canPassThrough} from './record-runs.js'

export interface SplitOptions {
  outDir: string
  rules: RuleSource[]
  gzip: boolean
  /** null: no decapsulation. */
  decap: {maxDepth: number; dropFailed: boolean} | null
  /** null: no deduplication. */
  dedupWindowNs: number | null
  /** fsync every output before renaming it into place. */
  fsync: boolean
}

export interface SplitTask {
  path: string
  tarball: boolean
  /** Output base name for a plain file (chosen by the caller so that inputs never share one). */
  baseName: string
  options: SplitOptions
}

export interface RuleCounts {
  packets: number
  bytes: number
  files: number
}

/** Counts of one input (or, summed, of the whole run): packets and captured bytes read, and per rule written. */
export interface SplitCounts {
  inputs: number
  packets: number
  bytes: number
  decapsulated: number
  decapFailed: number
  decapDropped: number
  duplicates: number
  rules: Record<string, RuleCounts>
  outputs: string[]
  /** Inputs that could not be read to their end (what came before the damage is written). */
  problems: string[]
}

export function emptyCounts(ruleNames: string[]): SplitCounts {
  const rules: Record<string, RuleCounts> = {}
  for (const n of ruleNames) rules[n] = {packets: 0, bytes: 0, files: 0}
  return {inputs: 0, packets: 0, bytes: 0, decapsulated: 0, decapFailed: 0, decapDropped: 0, duplicates: 0, rules, outputs: [], problems: []}
}

export function addCounts(total: SplitCounts, part: SplitCounts): void {
  total.inputs += part.inputs
  total.packets += part.packets
  total.bytes += part.bytes
  total.decapsulated += part.decapsulated
  total.decapFailed += part.decapFailed
  total.decapDropped += part.decapDropped
  total.duplicates += part.duplicates
  for (const [name, c] of Object.entries(part.rules)) {
    const t = total.rules[name]
    t.packets += c.packets
    t.bytes += c.bytes
    t.files += c.files
  }
  total.outputs.push(...part.outputs)
  total.problems.push(...part.problems)
}

const CAPTURE_SUFFIX = /\.(pcapng|pcap|cap)(\.gz)?$/i

/** An input's base name without its capture suffix: OUT/RULE/<this>.pcap. */
export function captureBaseName(path: string): string {
  return basename(path).replace(CAPTURE_SUFFIX, '') || 'capture'
}

export async function splitInput(task: SplitTask, onProgress?: (bytes: number) => void): Promise<SplitCounts> {
  const rules = compileRules(task.options.rules)
  const counts = emptyCounts(rules.names)
  if (!task.tarball) {
    let reader: CaptureReader
    try {
      reader = await CaptureReader.open(task.path)
    } catch (e) {
      counts.problems.push(describeError(e, task.path))
      return counts
    }
    await splitReader(reader, task.path, task.baseName, rules, task.options, counts, onProgress)
    return counts
  }
  // Members are named after the tarball and their own base name, numbered when two share one.
  const used = new Set<string>()
  const archive = captureBaseName(task.path.replace(/\.(tar|tar\.gz|tgz)$/i, ''))
  try {
    const tarball = await openTarball(task.path)
    for await (const m of tarMembers(tarball.tarBytes, (p, h) => h.type === 'file' && acceptsName(p, DEFAULT_SUFFIXES))) {
      const name = memberName(task.path, m.path)
      let base = `${archive}_${captureBaseName(m.path)}`
      for (let n = 2; used.has(base); n++) base = `${archive}_${captureBaseName(m.path)}-${n}`
      used.add(base)
      let reader: CaptureReader
      try {
        const {source, gzip} = await streamSource(m.stream)
        reader = await CaptureReader.fromSource(source, name, gzip)
      } catch (e) {
        counts.problems.push(describeError(e, name))
        continue
      }
      await splitReader(reader, name, base, rules, task.options, counts)
    }
  } catch (e) {
    counts.problems.push(`${task.path}: ${(e as Error).message}`)
  }
  return counts
}

async function splitReader(
  reader: CaptureReader, name: string, baseName: string, rules: CompiledRules, options: SplitOptions, counts: SplitCounts,
  onProgress?: (bytes: number) => void,
): Promise<void> {
  counts.inputs++
  const outputs = new RuleOutputs(options.outDir, rules.names, baseName, {
    // Decapsulation changes link types packet by packet (Ethernet, raw IP), which only pcapng can hold.
    classic: reader.format === 'pcap' && options.decap === null,
    snaplen: reader.snaplen,
    nanosecond: reader.tsPrecision === 'ns',
  }, options.gzip, options.fsync)
  const fields = new Fields()
  const view = new PacketView()
  const decapsulator = options.decap ? new Decapsulator(options.decap.maxDepth) : null
  const dropFailed = options.decap?.dropFailed ?? false
  const dedup = options.dedupWindowNs !== null ? new Deduplicator(options.dedupWindowNs) : null
  const masks = rules.masks
  const runs = decapsulator === null && canPassThrough(reader) ? new RecordRuns(outputs, rules.names.length, reader.interfaces[0].linkType) : null
  // Per-rule figures in typed arrays while reading (added to the report at the end): no object per match.
  const rulePackets = new Float64Array(rules.names.length)
  const ruleBytes = new Float64Array(rules.names.length)
  const onRecord = (rec: PacketRecord): void => {
    counts.packets++
    counts.bytes += rec.caplen
    let p: PacketRecord | PacketView = rec
    if (decapsulator) {
      const result = decapsulator.decapsulate(rec, view, fields)
      if (result === DECAP.STRIPPED) {
        counts.decapsulated++
        p = view
      } else if (result === DECAP.FAILED) {
        counts.decapFailed++
        if (dropFailed) {
          counts.decapDropped++
          return
        }
      }
    } else {
      decode(rec.buf, rec.dataStart, rec.caplen, rec.linkType, fields, rec.origLen)
    }
    if (dedup && dedup.isDuplicate(p, fields)) return
    for (let g = 0; g < masks.length; g++) {
      for (let m = masks[g](fields, p.tsSec, p.tsNsec); m !== 0; m &= m - 1) {
        const i = g * MASK_BITS + 31 - Math.clz32(m & -m) // the lowest set bit's rule
        if (runs) runs.add(i, rec)
        else outputs.write(i, p)
        rulePackets[i]++
        ruleBytes[i] += p.caplen
      }
    }
  }
  // Between buffers: pending runs are written before the reader moves its bytes, and progress is reported (per
  // MiB, not per record).
  const progress = onProgress ? reader.progressHook(onProgress) : undefined
  const atRefill = (): void => {
    runs?.writeAll()
    progress?.()
  }
  try {
    await reader.forEach(onRecord, runs || onProgress ? atRefill : undefined)
  } catch (e) {
    // Keep what was read before the damage, as tcpdump does, and say which file is damaged.
    counts.problems.push(describeError(e, name))
  } finally {
    runs?.writeAll()
    await reader.close().catch(() => {})
  }
  rules.names.forEach((n, i) => {
    counts.rules[n].packets += rulePackets[i]
    counts.rules[n].bytes += ruleBytes[i]
  })
  try {
    await outputs.close()
  } catch (e) {
    outputs.abort()
    throw e
  }
  progress?.()
  if (dedup) counts.duplicates += dedup.duplicates
  for (const {rule, path} of outputs.written) {
    counts.outputs.push(path)
    counts.rules[rule].files++
  }
}
