/** EVE events → rules for `pcapkit filter` (what `pcapkit eve2filter` writes). */
import {parseIpv4} from '../filter/literals.js'
import {flowExpression, type EveFlowEvent} from './eve.js'

type Rule = {expr: string} | {conditions: {kind: string; match: string[]}[]}

/** One rule per flow, named flow-<flow_id> (or after the 5-tuple when the event has no flow_id). */
export function eveRules(events: EveFlowEvent[], asConditions: boolean): Record<string, Rule> {
  const rules: Record<string, Rule> = {}
  for (const e of events) {
    const name = `flow-${e.flowId ?? `${e.srcIp}-${e.srcPort ?? 0}-${e.destIp}-${e.destPort ?? 0}-${e.proto}`.replace(/[^A-Za-z0-9.-]/g, '_')}`
    if (name in rules) continue
    rules[name] = asConditions ? {conditions: flowConditions(e)} : {expr: flowExpression(e)}
  }
  return rules
}

/**
 * gopherCap conditions: both addresses, then both ports (each condition tests source or destination, so this is the
 * flow in both directions; it also admits the rare A:SP → B:SP, which the expression form does not).
 */
function flowConditions(e: EveFlowEvent): {kind: string; match: string[]}[] {
  const cidr = (ip: string): string => `${ip}/${parseIpv4(ip) !== undefined ? 32 : 128}`
  const conditions = [{kind: 'subnet', match: [cidr(e.srcIp)]}, {kind: 'subnet', match: [cidr(e.destIp)]}]
  if ((e.proto === 'tcp' || e.proto === 'udp') && e.srcPort !== null && e.destPort !== null) {
    conditions.push({kind: 'port', match: [`${e.srcPort}/${e.proto}`]}, {kind: 'port', match: [`${e.destPort}/${e.proto}`]})
  }
  return conditions
}
