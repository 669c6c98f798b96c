/*
 * Suricata EVE JSON events (one object per line, plain or gzip) reduced to what finding their packets needs: the
 * flow's 5-tuple, its time span, and the fields output names are made from.
 */
import {readFile} from 'node:fs/promises'
import {gunzipSync} from 'node:zlib'
import {parseTime, type Timestamp} from '../dataset/timefmt.js'
import {parseIpv4, parseIpv6} from '../filter/literals.js'
import {TimeWindow} from '../query/time-window.js'

export interface EveFlowEvent {
  /** The event as parsed, with flow_id kept as its exact decimal text (it exceeds 2^53). */
  fields: Record<string, unknown>
  flowId: string | null
  srcIp: string
  destIp: string
  /** Lower-case protocol name (tcp, udp, sctp, icmp, ipv6-icmp) or the number as text. */
  proto: string
  srcPort: number | null
  destPort: number | null
  time: Timestamp
  flowStart: Timestamp | null
  flowEnd: Timestamp | null
}

export interface EveReadResult {
  events: EveFlowEvent[]
  /** Lines that are not JSON objects or carry no 5-tuple (stats, some anomalies). */
  skipped: number
}

/** flow_id is a 64-bit integer: JSON.parse would round it, so it is read from the text. */
const FLOW_ID = /"flow_id"\s*:\s*(\d+)/

/** Reads EVE lines of the given event types (all when empty); gzip is told by its magic bytes. */
export async function readEveFile(path: string, eventTypes: string[] = []): Promise<EveReadResult> {
  let data = await readFile(path)
  if (data[0] === 0x1f && data[1] === 0x8b) data = gunzipSync(data)
  const events: EveFlowEvent[] = []
  let skipped = 0
  for (const line of data.toString('utf8').split('\n')) {
    if (line.trim() === '') continue
    let obj: unknown
    try {
      obj = JSON.parse(line)
    } catch {
      skipped++
      continue
    }
    const event = flowEvent(obj, FLOW_ID.exec(line)?.[1] ?? null)
    if (!event) skipped++
    else if (eventTypes.length === 0 || eventTypes.includes(String(event.fields.event_type))) events.push(event)
  }
  return {events, skipped}
}

function flowEvent(obj: unknown, flowId: string | null): EveFlowEvent | null {
  if (obj === null || typeof obj !== 'object') return null
  const e = obj as Record<string, unknown>
  const srcIp = String(e.src_ip ?? '')
  const destIp = String(e.dest_ip ?? '')
  if (!isAddress(srcIp) || !isAddress(destIp) || e.proto === undefined || typeof e.timestamp !== 'string') return null
  const flow = (e.flow ?? {}) as Record<string, unknown>
  const time = (v: unknown): Timestamp | null => (typeof v === 'string' ? parseTime(v) : null)
  try {
    return {
      fields: {...e, flow_id: flowId ?? e.flow_id},
      flowId,
      srcIp,
      destIp,
      proto: String(e.proto).toLowerCase(),
      srcPort: typeof e.src_port === 'number' ? e.src_port : null,
      destPort: typeof e.dest_port === 'number' ? e.dest_port : null,
      time: parseTime(e.timestamp),
      flowStart: time(flow.start),
      flowEnd: time(flow.end),
    }
  } catch {
    return null
  }
}

function isAddress(text: string): boolean {
  return parseIpv4(text) !== undefined || parseIpv6(text) !== undefined
}

const PROTOCOLS: Record<string, string> = {tcp: 'tcp', udp: 'udp', sctp: 'sctp', icmp: 'icmp', 'ipv6-icmp': 'icmp6', '6': 'tcp', '17': 'udp', '132': 'sctp', '1': 'icmp', '58': 'icmp6'}

/** The flow in both directions as a filter expression (ports only for TCP, UDP and SCTP). */
export function flowExpression(e: EveFlowEvent): string {
  const proto = PROTOCOLS[e.proto] ?? (/^\d+$/.test(e.proto) ? `proto ${e.proto}` : null)
  if (proto === null) throw new Error(`unknown protocol ${e.proto}`)
  const hosts = (a: string, b: string): string => `src host ${a} and dst host ${b}`
  const withPorts = e.srcPort !== null && e.destPort !== null && ['tcp', 'udp', 'sctp'].includes(proto)
  if (!withPorts) return `${proto} and ((${hosts(e.srcIp, e.destIp)}) or (${hosts(e.destIp, e.srcIp)}))`
  const dir = (a: string, ap: number, b: string, bp: number): string => `${hosts(a, b)} and src port ${ap} and dst port ${bp}`
  return `${proto} and ((${dir(e.srcIp, e.srcPort!, e.destIp, e.destPort!)}) or (${dir(e.destIp, e.destPort!, e.srcIp, e.srcPort!)}))`
}

/**
 * The flow's packets lie from its start (or the event time less `beforeNs`) to its end, or, for events of flows
 * still open (alerts), to the event time plus `afterNs` (the flow timeout). The end is inclusive.
 */
export function flowWindow(e: EveFlowEvent, beforeNs: number, afterNs: number): TimeWindow {
  const from = e.flowStart ?? addNs(e.time, -beforeNs)
  const to = e.flowEnd ? addNs(e.flowEnd, 1) : addNs(e.time, afterNs + 1)
  return new TimeWindow(from, to)
}

function addNs([sec, nsec]: Timestamp, ns: number): Timestamp {
  const total = nsec + ns
  return [sec + Math.floor(total / 1e9), ((total % 1e9) + 1e9) % 1e9]
}

/**
 * Fills `{field}` / `{a.b}` placeholders from the event (a bare name is also looked up under alert and flow) and
 * makes the result one safe file name: no separators, no leading dots, nothing outside [A-Za-z0-9._+=@-].
 */
export function outputName(format: string, fields: Record<string, unknown>): string {
  const filled = format.replace(/\{([A-Za-z0-9_.]+)\}/g, (_, key: string) => {
    const value = lookup(fields, key) ?? lookup(fields, `alert.${key}`) ?? lookup(fields, `flow.${key}`)
    return value === undefined || value === null || typeof value === 'object' ? 'unknown' : String(value)
  })
  const safe = filled.replace(/[^A-Za-z0-9._+=@-]/g, '_').replace(/^\.+/, '_').slice(0, 200)
  return safe === '' ? 'event.pcap' : safe
}

function lookup(obj: Record<string, unknown>, path: string): unknown {
  let v: unknown = obj
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string, unknown>)[k]
  }
  return v
}
