/*
 * Rule files for `pcapkit filter`: a YAML map of rule name → rule. A rule is either an expression of our filter
 * language or gopherCap's condition list, so gopherCap rule files load unchanged:
 *
 *   ssh-out:   {expr: "net 10.0.0.0/8 and tcp port 22"}
 *   dns:                                  # gopherCap (pkg/filter/config.go: map[name]{conditions: [...]})
 *     conditions:
 *       - {kind: subnet, match: [10.0.0.0/8, "2001:db8::/32"]}
 *       - {kind: port, negate: true, match: [22/tcp, 53/udp]}
 *
 * Conditions are ANDed, the items of one condition ORed, `negate` inverts one condition. Each condition is
 * translated into expression text, so both kinds of rule share one parser and one compiled predicate:
 *   subnet  → `ip net A` / `ip6 net A` (gopherCap tests the network layer's addresses: IP only, never ARP)
 *   port    → `tcp port N` / `udp port N` for `N/tcp`, `N/udp` (gopherCap compares transport endpoints)
 *   ether   → `ether host MAC` (ours; gopherCap has only subnet and port)
 *   raw     → the item itself, an expression (ours)
 * Leniencies, so that files written by gopherCap's own eve2filter load (gopherCap itself refuses them): a subnet item
 * without a prefix length is one host, a port without `/proto` is `port N` (TCP, UDP or SCTP).
 */
import {readFile} from 'node:fs/promises'
import {parse as parseYaml} from 'yaml'
import {parseFilter} from '../filter/parser.js'
import {compileFilter} from '../filter/compile.js'
import type {RuleSource} from './compiled-rules.js'
import {FilterSyntaxError} from '../filter/errors.js'
import {parseIpv4, parseIpv6, parseMac} from '../filter/literals.js'

/** A rule file that cannot be used, naming the rule and the reason. */
export class RuleError extends Error {
  readonly code = 'BAD_RULE'

  constructor(readonly rule: string | null, readonly reason: string) {
    super(rule === null ? reason : `rule "${rule}": ${reason}`)
    this.name = 'RuleError'
  }
}

/** Rule names become directory names: keep them to one plain path component. */
const RULE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@+=-]*$/

interface Condition {
  kind?: unknown
  negate?: unknown
  match?: unknown
}

/** Reads, translates and checks every rule of a YAML rule file; the first bad rule throws a RuleError. */
export async function loadRuleFile(path: string): Promise<RuleSource[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    throw new RuleError(null, `cannot read rule file ${path}: ${(e as Error).message}`)
  }
  return parseRules(text)
}

export function parseRules(yamlText: string): RuleSource[] {
  let doc: unknown
  try {
    doc = parseYaml(yamlText)
  } catch (e) {
    throw new RuleError(null, `rule file is not valid YAML: ${(e as Error).message}`)
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new RuleError(null, 'rule file must be a YAML map of rule name → {expr: ...} or {conditions: [...]}')
  }
  const rules: RuleSource[] = []
  for (const [name, body] of Object.entries(doc as Record<string, unknown>)) {
    if (!RULE_NAME.test(name) || name === '.' || name === '..') {
      throw new RuleError(name, 'a rule name must be letters, digits and _ . @ + = - (it names an output directory)')
    }
    const expression = ruleExpression(name, body)
    checkExpression(name, expression)
    rules.push({name, expression})
  }
  if (rules.length === 0) throw new RuleError(null, 'rule file holds no rules')
  return rules
}

function ruleExpression(name: string, body: unknown): string {
  if (typeof body === 'string') return body
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new RuleError(name, 'expected {expr: "..."} or {conditions: [...]}')
  }
  const {expr, conditions} = body as {expr?: unknown; conditions?: unknown}
  if (expr !== undefined && conditions !== undefined) throw new RuleError(name, 'give expr or conditions, not both')
  if (expr !== undefined) {
    if (typeof expr !== 'string') throw new RuleError(name, 'expr must be a string')
    return expr
  }
  if (!Array.isArray(conditions) || conditions.length === 0) {
    throw new RuleError(name, 'conditions must be a non-empty list of {kind, match, negate}')
  }
  return conditions.map((c, i) => conditionExpression(name, i, c as Condition)).join(' and ')
}

function conditionExpression(name: string, index: number, c: Condition): string {
  const where = `condition ${index + 1}`
  if (c === null || typeof c !== 'object') throw new RuleError(name, `${where}: expected {kind, match, negate}`)
  if (!Array.isArray(c.match) || c.match.length === 0) throw new RuleError(name, `${where}: match must be a non-empty list`)
  if (c.negate !== undefined && typeof c.negate !== 'boolean') throw new RuleError(name, `${where}: negate must be true or false`)
  const items = c.match.map((m) => String(m).trim())
  let translate: (item: string) => string
  switch (c.kind) {
    case 'subnet': translate = subnetExpression; break
    case 'port': translate = portExpression; break
    case 'ether': translate = etherExpression; break
    case 'raw': translate = (item) => `(${item})`; break
    default: throw new RuleError(name, `${where}: kind ${JSON.stringify(c.kind)} is not one of subnet, port, ether, raw`)
  }
  let alternatives: string[]
  try {
    alternatives = items.map(translate)
  } catch (e) {
    throw new RuleError(name, `${where}: ${(e as Error).message}`)
  }
  const anyOf = `(${alternatives.join(' or ')})`
  return c.negate ? `not ${anyOf}` : anyOf
}

function subnetExpression(item: string): string {
  const [address, prefix, extra] = item.split('/')
  if (extra !== undefined || (prefix !== undefined && !/^\d{1,3}$/.test(prefix))) throw new Error(`${item} is not an address or CIDR network`)
  if (parseIpv4(address) !== undefined) {
    if (prefix === undefined) return `ip host ${address}`
    const bits = Number(prefix)
    if (bits > 32) throw new Error(`${item} is not an IPv4 network`)
    // Like Go's net.ParseCIDR (gopherCap), host bits are ignored: 10.1.2.3/8 is 10.0.0.0/8.
    const network = bits === 0 ? 0 : (parseIpv4(address)! & (~0 << (32 - bits))) >>> 0
    return `ip net ${[24, 16, 8, 0].map((s) => (network >>> s) & 255).join('.')}/${bits}`
  }
  if (parseIpv6(address) !== undefined) {
    if (prefix === undefined) return `ip6 host ${address}`
    if (Number(prefix) > 128) throw new Error(`${item} is not an IPv6 network`)
    return `ip6 net ${item}`
  }
  throw new Error(`${item} is not an address or CIDR network`)
}

function portExpression(item: string): string {
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/i.exec(item)
  if (!m || Number(m[1]) > 65535) throw new Error(`${item} is not a port: write N/tcp or N/udp`)
  return m[2] ? `${m[2].toLowerCase()} port ${Number(m[1])}` : `port ${Number(m[1])}`
}

function etherExpression(item: string): string {
  if (parseMac(item) === undefined) throw new Error(`${item} is not a MAC address`)
  return `ether host ${item}`
}

function checkExpression(name: string, expression: string): void {
  try {
    compileFilter(parseFilter(expression))
  } catch (e) {
    if (e instanceof FilterSyntaxError) throw new RuleError(name, `${e.reason} at column ${e.column} of "${expression}"`)
    throw new RuleError(name, (e as Error).message)
  }
}
