/*
 * Index plan: the filter AST turned into posting lookups. A plan only narrows the search to candidate flows; the
 * exact per-packet check (the same AST, compiled) decides. So every lookup must find a SUPERSET of the flows the
 * predicate can match, and anything the index cannot narrow soundly (`not`, lengths, times, ethertypes) is "all".
 */
import type {Ast, Direction} from '../filter/ast.js'
import type {IndexStore, PortRange} from '../index/store.js'
import {DEEP, FIELD, hex, postingValue} from '../index/layout.js'
import {intersectSorted, unionSorted} from './sorted-ids.js'

/** Candidate flow ids per file id, ascending without repeats (see sorted-ids.ts); ALL means every flow of every file. */
export type FlowIds = Float64Array
export type Candidates = Map<string, FlowIds> | typeof ALL
export const ALL = 'all' as const

export type Plan =
  | {op: 'all'}
  | {op: 'lookup'; field: string; from: string; to: string; ports?: PortRange}
  | {op: 'and' | 'or'; args: Plan[]}

const all: Plan = {op: 'all'}
const lookup = (field: string, from: string, to = from): Plan => ({op: 'lookup', field, from, to})
/** Ports are posted in buckets: the lookup reads the buckets of the range and keeps the ports in it. */
const portLookup = (field: string, ports: PortRange): Plan =>
  ({op: 'lookup', field, from: postingValue(field, ports[0]), to: postingValue(field, ports[1]), ports})

function directed(dir: Direction, src: Plan, dst: Plan): Plan {
  if (dir === 'src') return src
  if (dir === 'dst') return dst
  return {op: dir === 'src and dst' ? 'and' : 'or', args: [src, dst]}
}

/** Hex bounds of the addresses in a prefix, as the index spells them (8 or 32 hex digits). */
function addressRange(words: number[], prefixLen: number): [string, string] {
  let from = ''
  let to = ''
  words.forEach((w, i) => {
    const bits = Math.max(0, Math.min(32, prefixLen - 32 * i))
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
    from += hex((w & mask) >>> 0, 8)
    to += hex(((w & mask) | (~mask >>> 0)) >>> 0, 8)
  })
  return [from, to]
}

export function planFor(ast: Ast): Plan {
  switch (ast.kind) {
    case 'and':
    case 'or':
      return {op: ast.kind, args: ast.args.map(planFor)}
    case 'not':
      return all
    case 'host':
    case 'net': {
      const [from, to] = addressRange(ast.words, ast.prefixLen)
      const [s, d] = ast.family === 4 ? [FIELD.IP4_SRC, FIELD.IP4_DST] : [FIELD.IP6_SRC, FIELD.IP6_DST]
      return directed(ast.dir, lookup(s, from, to), lookup(d, from, to))
    }
    case 'etherHost': {
      const mac = postingValue(FIELD.MAC_SRC, ast.hi * 2 ** 32 + (ast.lo >>> 0))
      return directed(ast.dir, lookup(FIELD.MAC_SRC, mac), lookup(FIELD.MAC_DST, mac))
    }
    case 'port': {
      const range: PortRange = [ast.low, ast.high]
      return directed(ast.dir, portLookup(FIELD.PORT_SRC, range), portLookup(FIELD.PORT_DST, range))
    }
    case 'ipProto':
      return lookup(FIELD.PROTO, postingValue(FIELD.PROTO, ast.protocol))
    case 'vlan':
      return ast.id === null ? lookup(FIELD.VLAN, '', '\xff') : {op: 'or', args: [lookup(FIELD.VLAN, postingValue(FIELD.VLAN, ast.id)), lookup(FIELD.VLAN, DEEP)]}
    case 'mpls':
      return ast.label === null ? lookup(FIELD.MPLS, '', '\xff') : {op: 'or', args: [lookup(FIELD.MPLS, postingValue(FIELD.MPLS, ast.label)), lookup(FIELD.MPLS, DEEP)]}
    default:
      // network (ip/ip6/arp), etherProto, length, time: not narrowed by postings (time prunes files and flows).
      return all
  }
}

/** Runs a plan against the index for the given live files. */
export async function candidates(plan: Plan, store: IndexStore, live: Set<string>): Promise<Candidates> {
  switch (plan.op) {
    case 'all':
      return ALL
    case 'lookup': {
      const found = await store.lookup(plan.field, plan.from, plan.to, live, plan.ports)
      return new Map([...found].map(([file, lists]) => [file, unionSorted(lists)]))
    }
    case 'or': {
      const parts = await Promise.all(plan.args.map((p) => candidates(p, store, live)))
      if (parts.includes(ALL)) return ALL
      const byFile = new Map<string, FlowIds[]>()
      for (const part of parts as Map<string, FlowIds>[]) {
        for (const [file, ids] of part) {
          const lists = byFile.get(file)
          if (lists) lists.push(ids)
          else byFile.set(file, [ids])
        }
      }
      return new Map([...byFile].map(([file, lists]) => [file, unionSorted(lists)]))
    }
    case 'and': {
      let acc: Candidates = ALL
      // Narrow terms first; a broad one (a protocol, any VLAN: a large share of all flows) is skipped once the
      // others leave few candidates. Skipping a term of an AND only widens the superset, which the exact check trims.
      for (const p of [...plan.args].sort((a, b) => breadth(a) - breadth(b))) {
        if (breadth(p) === BROAD && acc !== ALL && candidateCount(acc) <= FEW) continue
        const part = await candidates(p, store, live)
        if (part === ALL) continue
        if (acc === ALL) {
          acc = part
          continue
        }
        const next = new Map<string, FlowIds>()
        for (const [file, ids] of part) {
          const other = acc.get(file)
          if (!other) continue
          const both = intersectSorted(ids, other)
          if (both.length > 0) next.set(file, both)
        }
        acc = next
        if (acc.size === 0) break
      }
      return acc
    }
  }
}

const NARROW = 0
const BROAD = 1
/** Candidate flows below which a broad AND term is not worth its lookup. */
const FEW = 10_000

/** Fields whose values are shared by many flows. */
const BROAD_FIELDS: ReadonlySet<string> = new Set([FIELD.PROTO, FIELD.ETHERTYPE, FIELD.KIND, FIELD.VLAN, FIELD.MPLS])

function breadth(plan: Plan): number {
  if (plan.op === 'lookup') return BROAD_FIELDS.has(plan.field) ? BROAD : NARROW
  return plan.op === 'all' ? BROAD : NARROW
}

function candidateCount(c: Map<string, FlowIds>): number {
  let n = 0
  for (const ids of c.values()) n += ids.length
  return n
}
