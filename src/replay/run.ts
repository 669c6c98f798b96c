/**
 * A whole replay from checked options: find the captures, settle the pace, open the output, run the pipeline,
 * finish the output and build the report. The command only parses flags and prints what this returns.
 */
import {ReplayError} from './errors.js'
import {FileSink, chooseFileFormat} from './file-sink.js'
import {InterfaceSink, interfaceFacts} from './interface-sink.js'
import type {ReplayOptions} from './options.js'
import {compileOutFilter} from './out-filter.js'
import {PacketSocketSink, TOPSPEED_BATCH} from './packet-socket-sink.js'
import type {PaceMode} from './pacer.js'
import {ReplayPipeline} from './pipeline.js'
import type {ProgressLine} from './progress.js'
import type {FrameSink} from './sink.js'
import {sourcesFromMetadata, sourcesFromPaths, type ReplaySource, type SourceList} from './sources.js'
import {timelineSpanNs} from './span.js'
import {buildReport, type ReplayReport} from './stats.js'

export interface ReplayHooks {
  /** Aborting ends the replay early (the output is still finished and reported). */
  signal: AbortSignal
  progress?: ProgressLine
}

/** The largest frame a capture file takes when nothing else limits it (wiretap's default maximum). */
const FILE_SNAPLEN = 262144

export async function replayCaptures(options: ReplayOptions, hooks: ReplayHooks): Promise<ReplayReport> {
  const filter = options.outBpf === undefined ? null : compileOutFilter(options.outBpf)
  const found = await findSources(options)
  const pace = await settlePace(options, found.sources)
  const sink = openSink(options, found.sources, pace)
  let outcome
  try {
    const pipeline = new ReplayPipeline({
      sources: found.sources,
      pace,
      window: options.window,
      loops: options.loops,
      loopDelayMs: options.loopDelayMs,
      skipOutOfOrder: options.skipOutOfOrder,
      maxFrame: options.maxFrame,
      truncateOversize: options.truncateOversize,
      filter,
    }, sink, hooks.signal, hooks.progress)
    outcome = await pipeline.run()
    await sink.close()
  } catch (e) {
    sink.abort()
    throw e
  }
  return buildReport(outcome.stats, {
    replayedFiles: found.sources.length,
    filesOutsideWindow: found.outsideWindow,
    skippedFiles: [...new Set([...found.problems, ...outcome.problems])],
    output: sink.description,
    skipOutOfOrder: options.skipOutOfOrder,
    paced: outcome.paced,
    retries: sink.retries,
    sendErrors: sink.errors,
  })
}

async function findSources(o: ReplayOptions): Promise<SourceList> {
  let found: SourceList
  try {
    found = o.metadata ? sourcesFromMetadata(o.metadata, o.window) : await sourcesFromPaths(o.inputs, o.window, o.selection)
  } catch (e) {
    throw new ReplayError((e as Error).message, 'NO_INPUT')
  }
  if (found.sources.length === 0) {
    const why = found.outsideWindow > 0 ? 'no capture has packets inside the time window'
      : found.problems.length > 0 ? `no capture could be read:\n  ${found.problems.join('\n  ')}`
        : 'no capture files with packets found in the inputs'
    throw new ReplayError(why, 'NO_INPUT')
  }
  return found
}

/** Fitting into a duration is the original timeline at the speed that makes its span last that long. */
async function settlePace(o: ReplayOptions, sources: ReplaySource[]): Promise<PaceMode> {
  if (o.pace.kind !== 'fit') return o.pace
  const spanNs = await timelineSpanNs(sources, o.window)
  if (spanNs <= 0) {
    throw new ReplayError('--time-scale-duration: the replayed packets all have the same time, there is no duration to scale', 'USAGE')
  }
  return {kind: 'timeline', speed: spanNs / o.pace.durationNs}
}

function openSink(o: ReplayOptions, sources: ReplaySource[], pace: PaceMode): FrameSink {
  if (o.outInterface) {
    const facts = interfaceFacts(o.outInterface)
    const packetSocket = o.sender === 'packet-socket' || (o.sender === 'auto' && PacketSocketSink.canSend(facts))
    // Batching only where nothing waits for a due time: a paced frame must leave when it is due.
    return packetSocket ? PacketSocketSink.open(facts, pace.kind === 'topspeed' ? TOPSPEED_BATCH : 1) : InterfaceSink.open(facts)
  }
  const snaplen = o.truncateOversize && o.maxFrame !== undefined ? o.maxFrame : FILE_SNAPLEN
  return new FileSink(o.outFile!, chooseFileFormat(sources, o.keepTimestamps, snaplen), o.keepTimestamps)
}
