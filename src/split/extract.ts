/*
 * `pcapkit extract`: for each EVE event, the packets of its flow (both directions) within the flow's time span, as
 * one capture named from the event. Answered from the field index when the dataset is mapped, by a scan otherwise
 * (one pass over the inputs per event: map the dataset first when there are many events).
 */
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {parseFilter} from '../filter/parser.js'
import {compileFilter} from '../filter/compile.js'
import {captureChoiceFor, openOutput} from '../query/output.js'
import {openPlanner, runQuery} from '../query/run-query.js'
import {flowExpression, flowWindow, outputName, readEveFile} from './eve.js'

export interface ExtractOptions {
  eventsPath: string
  /** Event types to take (alert, flow, anomaly…); empty takes every event that names a flow. */
  eventTypes: string[]
  outDir: string
  /** Output name template, e.g. {signature_id}-{flow_id}.pcap. */
  fileFormat: string
  beforeNs: number
  afterNs: number
  /** The index to answer from, or (undefined) scan these inputs. */
  db?: string
  scanInputs?: string[]
}

export interface ExtractedEvent {
  file: string
  expression: string
  packets: number
}

export interface ExtractReport {
  events: number
  skippedLines: number
  /** Events whose output name was already written (e.g. several alerts of one flow). */
  sameName: number
  extracted: ExtractedEvent[]
}

export async function extractEvents(opts: ExtractOptions, onEvent?: (e: ExtractedEvent) => void): Promise<ExtractReport> {
  const {events, skipped} = await readEveFile(opts.eventsPath, opts.eventTypes)
  mkdirSync(opts.outDir, {recursive: true})
  const report: ExtractReport = {events: events.length, skippedLines: skipped, sameName: 0, extracted: []}
  const written = new Set<string>()
  // One planner for all events: the index is opened and its files checked once, not once per event.
  const planner = await openPlanner({db: opts.db, scanInputs: opts.scanInputs})
  try {
    for (const event of events) {
      const name = outputName(opts.fileFormat, event.fields)
      if (written.has(name)) {
        report.sameName++
        continue
      }
      written.add(name)
      const expression = flowExpression(event)
      const ast = parseFilter(expression)
      const window = flowWindow(event, opts.beforeNs, opts.afterNs)
      const plan = await planner.plan(ast, window)
      // The name has no separators (outputName), so the file is always directly inside outDir.
      const file = join(opts.outDir, name)
      const out = openOutput('pcap', file, captureChoiceFor(plan.sources))
      let packets = 0
      try {
        await runQuery(plan.sources, compileFilter(ast), window, async (m) => {
          packets++
          const pending = out.write(m.rec, plan.sources[m.order].path)
          if (pending) await pending
          return true
        })
        await out.close()
      } catch (e) {
        out.abort()
        throw e
      }
      const done = {file, expression, packets}
      report.extracted.push(done)
      onEvent?.(done)
    }
  } finally {
    await planner.close()
  }
  return report
}
