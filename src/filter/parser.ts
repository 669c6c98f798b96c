/*
 * Recursive-descent parser for the filter language described in ast.ts. It follows tcpdump's grammar where it
 * matters for meaning: `and`/`or` share one precedence and group from the left, and a bare id reuses the
 * qualifiers of the primitive before it.
 */
import type {AddressNode, AddressProtocol, Ast, Direction, IpWords, PortProtocol, Span} from './ast.js'
import {FilterSyntaxError} from './errors.js'
import {type Token, tokenize} from './lexer.js'
import {parseIpv4, parseIpv4Network, parseIpv6, parseMac, parseNumber} from './literals.js'
import {lookupEtherType, lookupIpProtocol, lookupService} from './names.js'
import {type Instant, instantBefore, parseDuration, parseRfc3339} from './time.js'
import {ETHERTYPE_MIN, IPPROTO} from '../decode/protocols.js'

export interface ParseOptions {
  /** The clock for relative times ("45m ago"), in ms since the epoch; defaults to Date.now() at parse time. */
  now?: number
}

/** Parses a filter expression; throws FilterSyntaxError pointing at the offending token. */
export function parseFilter(text: string, options: ParseOptions = {}): Ast {
  return new Parser(text, options.now ?? Date.now()).parse()
}

type ProtocolQualifier = 'ether' | 'ip' | 'ip6' | 'arp' | 'rarp' | 'tcp' | 'udp' | 'sctp'
type TypeQualifier = 'host' | 'net' | 'port' | 'portrange' | 'proto'

/** The qualifiers of a primitive (tcpdump's "head"); null parts were not written. */
interface Qualifiers {
  protocol: ProtocolQualifier | null
  dir: Direction | null
  type: TypeQualifier | null
}

const PROTOCOL_QUALIFIERS = new Set<string>(['ether', 'ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'sctp'])
const TYPE_QUALIFIERS = new Set<string>(['host', 'net', 'port', 'portrange'])
const KEYWORDS = new Set<string>([
  ...PROTOCOL_QUALIFIERS, ...TYPE_QUALIFIERS, 'and', 'or', 'not', 'src', 'dst', 'proto', 'mask', 'icmp', 'icmp6', 'igmp',
  'vlan', 'mpls', 'less', 'greater', 'before', 'after',
])
/** tcpdump primitives outside our subset: named in the error rather than mistaken for an id. */
const UNSUPPORTED = new Set<string>([
  'gateway', 'broadcast', 'multicast', 'len', 'inbound', 'outbound', 'ifname', 'on', 'geneve', 'pppoed', 'pppoes',
  'protochain', 'link', 'fddi', 'tr', 'wlan', 'llc', 'iso', 'stp', 'ipx', 'netbeui', 'decnet', 'atalk', 'aarp',
  'lat', 'sca', 'moprc', 'mopdl', 'ah', 'esp', 'pim', 'vrrp', 'carp', 'igrp', 'type', 'subtype', 'dir', 'clnp',
  'esis', 'isis', 'radio', 'action', 'reason', 'rulenum', 'rset',
])

const MAX_VLAN_ID = 4095
const MAX_MPLS_LABEL = 0xfffff
const SIMPLE_PROTOCOLS: Record<string, {ipVersion: 0 | 4 | 6; protocol: number}> = {
  tcp: {ipVersion: 0, protocol: IPPROTO.TCP},
  udp: {ipVersion: 0, protocol: IPPROTO.UDP},
  sctp: {ipVersion: 0, protocol: IPPROTO.SCTP},
  icmp: {ipVersion: 4, protocol: IPPROTO.ICMP},
  igmp: {ipVersion: 4, protocol: IPPROTO.IGMP},
  icmp6: {ipVersion: 6, protocol: IPPROTO.ICMPV6},
}

class Parser {
  private readonly tokens: Token[]
  private i = 0
  /** Qualifiers a bare id would reuse; null after primitives that have none (`tcp`, `vlan 10`, `less 100`). */
  private inherited: Qualifiers | null = null

  constructor(private readonly text: string, private readonly now: number) {
    this.tokens = tokenize(text)
  }

  parse(): Ast {
    if (this.peek().type === 'end') throw this.error('empty filter expression', this.peek())
    const ast = this.expression()
    const extra = this.peek()
    if (extra.type === ')') throw this.error("unmatched ')'", extra)
    if (extra.type !== 'end') throw this.error(`expected 'and' or 'or' before '${extra.text}'`, extra)
    return ast
  }

  // expression := unary (('and' | 'or') unary)*  — one precedence, grouped from the left, as in tcpdump.
  private expression(): Ast {
    let left = this.unary()
    for (;;) {
      const op = this.binaryOperator(this.peek())
      if (op === null) return left
      this.i++
      const right = this.unary()
      const span = {start: left.span.start, end: right.span.end}
      if (left.kind === op) {
        left.args.push(right)
        left.span = span
      } else {
        left = {kind: op, args: [left, right], span}
      }
    }
  }

  private unary(): Ast {
    const t = this.peek()
    if (t.type === '!' || this.isWord(t, 'not')) {
      this.i++
      const arg = this.unary()
      return {kind: 'not', arg, span: {start: t.start, end: arg.span.end}}
    }
    return this.primary()
  }

  private primary(): Ast {
    const t = this.peek()
    switch (t.type) {
      case '(': return this.group()
      case 'word': return KEYWORDS.has(t.text.toLowerCase()) ? this.primitive() : this.bareId()
      case 'end': throw this.error('the expression ends where a primitive was expected', t)
      default: throw this.error(`expected a primitive, found '${t.text}'`, t)
    }
  }

  /**
   * A parenthesized expression (its span includes the parentheses); bare ids inside reuse the qualifiers from before
   * it, and so do ids after it.
   */
  private group(): Ast {
    const open = this.next()
    const outer = this.inherited
    const inner = this.expression()
    const close = this.peek()
    if (close.type !== ')') {
      throw this.error(close.type === 'end' ? "missing ')'" : `expected ')' or an operator, found '${close.text}'`,
        close.type === 'end' ? open : close)
    }
    this.i++
    this.inherited = outer
    inner.span = {start: open.start, end: close.end}
    return inner
  }

  private primitive(): Ast {
    const t = this.peek()
    const word = t.text.toLowerCase()
    switch (word) {
      case 'vlan':
      case 'mpls': return this.vlanOrMpls(word)
      case 'less':
      case 'greater': {
        this.i++
        const bytes = this.expectNumber('a length in bytes')
        this.inherited = null
        return {kind: 'length', op: word === 'less' ? '<=' : '>=', bytes, span: this.spanFrom(t)}
      }
      case 'before':
      case 'after': {
        this.i++
        const at = this.expectTime()
        this.inherited = null
        return {kind: 'time', op: word, sec: at.sec, nsec: at.nsec, span: this.spanFrom(t)}
      }
      case 'icmp':
      case 'icmp6':
      case 'igmp': {
        this.i++
        this.rejectQualifierAfter(t)
        this.inherited = null
        return {kind: 'ipProto', ...SIMPLE_PROTOCOLS[word], span: this.spanFrom(t)}
      }
      case 'and':
      case 'or': throw this.error(`expected a primitive before '${t.text}'`, t)
      case 'mask': throw this.error("'mask' belongs after 'net ADDRESS'", t)
    }
    let protocol: ProtocolQualifier | null = null
    if (PROTOCOL_QUALIFIERS.has(word)) {
      protocol = word as ProtocolQualifier
      this.i++
    }
    const dir = this.direction()
    const typeWord = this.peek().type === 'word' ? this.peek().text.toLowerCase() : ''
    let type: TypeQualifier | null = null
    if (TYPE_QUALIFIERS.has(typeWord) || typeWord === 'proto') {
      type = typeWord as TypeQualifier
      this.i++
    }
    if (protocol !== null && dir === null && type === null) return this.protocolAlone(protocol, t)
    const qualifiers = {protocol, dir, type}
    this.inherited = qualifiers
    return this.id(qualifiers, t)
  }

  /** `ip`, `tcp`, `ether` … with nothing after them. */
  private protocolAlone(protocol: ProtocolQualifier, t: Token): Ast {
    this.inherited = null
    switch (protocol) {
      case 'ether': throw this.error("'ether' needs 'host', 'src', 'dst' or 'proto' after it", t)
      case 'ip':
      case 'ip6':
      case 'arp':
      case 'rarp': return {kind: 'network', protocol, span: this.spanFrom(t)}
      default: return {kind: 'ipProto', ...SIMPLE_PROTOCOLS[protocol], span: this.spanFrom(t)}
    }
  }

  /** The id after a head (or a parenthesized group of ids, as tcpdump allows: `host (a or b)`). */
  private id(q: Qualifiers, head: Token): Ast {
    const t = this.peek()
    if (t.type === '(') {
      const ids = this.group()
      ids.span = {start: head.start, end: ids.span.end}
      return ids
    }
    if (t.type !== 'word') {
      throw this.error(t.type === 'end' ? `'${this.text.slice(head.start, t.start).trim()}' needs a value after it`
        : `expected a value, found '${t.text}'`, t)
    }
    // Keywords name protocols after `proto` (`ip proto tcp`); anywhere else they are a missing value.
    if (KEYWORDS.has(t.text.toLowerCase()) && q.type !== 'proto') {
      throw this.error(`expected a value after '${this.tokens[this.i - 1].text}', found the keyword '${t.text}'`, t)
    }
    this.i++
    return this.value(q, t, head)
  }

  /** A bare id: it takes the qualifiers of the previous primitive (`host a or b`, `port 80 or 443`). */
  private bareId(): Ast {
    const t = this.next()
    if (UNSUPPORTED.has(t.text.toLowerCase())) throw this.error(`'${t.text}' is not supported`, t)
    if (this.inherited === null) {
      const hint = parseNumber(t.text) !== undefined ? `'port ${t.text}'` : `'host ${t.text}'`
      throw this.error(`'${t.text}' needs a qualifier before it, e.g. ${hint}`, t)
    }
    return this.value(this.inherited, t, t)
  }

  /** Builds the primitive for an id under its qualifiers. */
  private value(q: Qualifiers, t: Token, head: Token): Ast {
    const dir = q.dir ?? 'src or dst'
    if (q.type === 'proto') return this.protocolNumber(q.protocol, t, head)
    if (q.protocol === 'ether') {
      if (q.type !== null && q.type !== 'host') throw this.error(`'ether' cannot qualify '${q.type}'`, head)
      const mac = parseMac(t.text)
      if (mac === undefined) throw this.error(`expected a MAC address such as 00:11:22:33:44:55, found '${t.text}'`, t)
      return {kind: 'etherHost', dir, hi: mac.hi, lo: mac.lo, span: this.spanFrom(head)}
    }
    if (q.type === 'port' || q.type === 'portrange') return this.port(q, dir, t, head)
    const protocol = q.protocol
    if (protocol === 'tcp' || protocol === 'udp' || protocol === 'sctp') {
      throw this.error(`'${protocol}' cannot qualify an address; write '${protocol} and host ADDRESS'`, head)
    }
    return this.address(q.type, protocol ?? 'any', dir, t, head)
  }

  private port(q: Qualifiers, dir: Direction, t: Token, head: Token): Ast {
    let protocol: PortProtocol = 'any'
    if (q.protocol === 'tcp' || q.protocol === 'udp' || q.protocol === 'sctp') protocol = q.protocol
    else if (q.protocol !== null) throw this.error(`'${q.protocol}' cannot qualify '${q.type}'; use tcp, udp or sctp`, head)
    let low: number
    let high: number
    if (q.type === 'portrange') {
      const m = /^([^-]+)-([^-]+)$/.exec(t.text)
      const a = m === null ? undefined : parseNumber(m[1])
      const b = m === null ? undefined : parseNumber(m[2])
      if (a === undefined || b === undefined) throw this.error(`expected a port range such as 1024-65535, found '${t.text}'`, t)
      // tcpdump accepts the bounds in either order.
      low = Math.min(a, b)
      high = Math.max(a, b)
    } else {
      const n = parseNumber(t.text)
      if (n !== undefined) {
        low = high = n
      } else {
        const service = lookupService(t.text.toLowerCase())
        if (service === undefined) throw this.error(`expected a port number or a well-known service name, found '${t.text}'`, t)
        low = high = service.port
        const only = service.tcp && service.udp ? null : service.tcp ? 'tcp' : 'udp'
        if (only !== null) {
          if (protocol !== 'any' && protocol !== only) throw this.error(`port '${t.text}' is ${only} only`, t)
          protocol = only
        }
      }
    }
    if (high > 0xffff) throw this.error(`port ${high} is out of range (0-65535)`, t)
    return {kind: 'port', dir, protocol, low, high, span: this.spanFrom(head)}
  }

  /** `host`, `net` or an untyped address (a host, or a net when it has a prefix length or a mask). */
  private address(
    type: 'host' | 'net' | null, protocol: AddressProtocol, dir: Direction, t: Token, head: Token,
  ): AddressNode {
    const text = t.text
    let family: 4 | 6
    let words: IpWords
    let prefixLen: number
    const slash = text.indexOf('/')
    if (slash >= 0) {
      if (type === 'host') throw this.error(`a prefix length is for 'net', not 'host': write 'net ${text}'`, t)
      const addrText = text.slice(0, slash)
      const len = parseNumber(text.slice(slash + 1))
      const v4 = parseIpv4Network(addrText)
      const v6 = v4 === undefined ? parseIpv6(addrText) : undefined
      if (v4 !== undefined) [family, words] = [4, [v4.word]]
      else if (v6 !== undefined) [family, words] = [6, v6]
      else throw this.error(`expected an IPv4 or IPv6 network such as 10.0.0.0/8, found '${text}'`, t)
      if (len === undefined || len > (family === 4 ? 32 : 128)) {
        throw this.error(`'${text.slice(slash + 1)}' is not a prefix length for IPv${family}`, t)
      }
      prefixLen = len
    } else if (this.isWord(this.peek(), 'mask')) {
      if (type === 'host') throw this.error("'mask' is for 'net', not 'host'", this.peek())
      const addr = parseIpv4(text)
      if (addr === undefined) throw this.error(`expected an IPv4 network before 'mask', found '${text}'`, t)
      this.i++
      const maskToken = this.peek()
      const mask = maskToken.type === 'word' ? parseIpv4(maskToken.text) : undefined
      if (mask === undefined) throw this.error('expected a dotted netmask such as 255.255.0.0', maskToken)
      const ones = Math.clz32(~mask)
      if (ones < 32 && (mask << ones) !== 0) {
        throw this.error(`netmask '${maskToken.text}' is not contiguous; write the network as ADDRESS/LENGTH`, maskToken)
      }
      this.i++
      ;[family, words, prefixLen] = [4, [addr], ones]
    } else {
      const v4 = parseIpv4(text)
      const v6 = v4 === undefined ? parseIpv6(text) : undefined
      const shortNet = type === 'net' && v4 === undefined ? parseIpv4Network(text) : undefined
      if (v4 !== undefined) [family, words, prefixLen] = [4, [v4], 32]
      else if (v6 !== undefined) [family, words, prefixLen] = [6, v6, 128]
      else if (shortNet !== undefined) [family, words, prefixLen] = [4, [shortNet.word], shortNet.prefixLen]
      else throw this.error(this.notAnAddress(text), t)
    }
    if (!hostBitsClear(words, prefixLen)) {
      throw this.error(`'${text}' has bits set beyond its /${prefixLen} prefix`, t)
    }
    if (family === 6 ? protocol !== 'any' && protocol !== 'ip6' : protocol === 'ip6') {
      throw this.error(`'${protocol}' cannot qualify an IPv${family} address`, head)
    }
    const kind = type === 'net' || prefixLen < (family === 4 ? 32 : 128) ? 'net' : 'host'
    return {kind, dir, protocol, family, words, prefixLen, span: this.spanFrom(head)}
  }

  private notAnAddress(text: string): string {
    if (parseMac(text) !== undefined) return `'${text}' is a MAC address: write 'ether host ${text}'`
    if (parseNumber(text) !== undefined) return `'${text}' is not an address (for a port write 'port ${text}')`
    return `expected an IPv4 or IPv6 address, found '${text}' (host names are not resolved)`
  }

  /** The number after `proto`, `ip proto`, `ip6 proto`, `ether proto`: a number or a name, `\tcp` as in tcpdump. */
  private protocolNumber(protocol: ProtocolQualifier | null, t: Token, head: Token): Ast {
    const name = t.text.replace(/^\\/, '').toLowerCase()
    const span = this.spanFrom(head)
    if (protocol === 'ether') {
      const etherType = parseNumber(name) ?? lookupEtherType(name)
      if (etherType === undefined || etherType > 0xffff) throw this.error(`expected an ethertype such as 0x0800 or \\ip, found '${t.text}'`, t)
      if (etherType < ETHERTYPE_MIN) throw this.error(`ethertype ${t.text} is below 0x0600 (an 802.3 length / LLC SAP); only ethertypes are supported`, t)
      return {kind: 'etherProto', etherType, span}
    }
    if (protocol !== null && protocol !== 'ip' && protocol !== 'ip6') throw this.error(`'${protocol} proto' is not valid; use 'ip proto', 'ip6 proto', 'ether proto' or 'proto'`, head)
    const number = parseNumber(name) ?? lookupIpProtocol(name)
    if (number === undefined || number > 255) throw this.error(`expected an IP protocol number (0-255) or name such as tcp, found '${t.text}'`, t)
    return {kind: 'ipProto', ipVersion: protocol === 'ip' ? 4 : protocol === 'ip6' ? 6 : 0, protocol: number, span}
  }

  private vlanOrMpls(word: 'vlan' | 'mpls'): Ast {
    const t = this.next()
    this.inherited = null
    const n = this.peek().type === 'word' ? parseNumber(this.peek().text) : undefined
    const max = word === 'vlan' ? MAX_VLAN_ID : MAX_MPLS_LABEL
    if (n !== undefined) {
      if (n > max) throw this.error(`${word === 'vlan' ? 'VLAN id' : 'MPLS label'} ${n} is greater than the maximum ${max}`, this.peek())
      this.i++
    } else {
      this.rejectQualifierAfter(t)
    }
    const span = this.spanFrom(t)
    return word === 'vlan' ? {kind: 'vlan', id: n ?? null, span} : {kind: 'mpls', label: n ?? null, span}
  }

  /** `icmp host X`, `vlan src X`: tcpdump parses these and then rejects them; say why. */
  private rejectQualifierAfter(t: Token): void {
    const n = this.peek()
    const w = n.type === 'word' ? n.text.toLowerCase() : ''
    if (TYPE_QUALIFIERS.has(w) || w === 'src' || w === 'dst' || w === 'proto') {
      throw this.error(`'${t.text}' cannot qualify '${n.text}'`, n)
    }
  }

  /** src | dst | src or dst | src and dst (and the same with dst first). */
  private direction(): Direction | null {
    const t = this.peek()
    const first = t.type === 'word' ? t.text.toLowerCase() : ''
    if (first !== 'src' && first !== 'dst') return null
    this.i++
    const op = this.binaryOperator(this.peek())
    const second = this.tokens[this.i + 1]
    const other = first === 'src' ? 'dst' : 'src'
    if (op !== null && this.isWord(second, other)) {
      this.i += 2
      return op === 'or' ? 'src or dst' : 'src and dst'
    }
    return first
  }

  private expectNumber(what: string): number {
    const t = this.peek()
    const value = t.type === 'word' ? parseNumber(t.text) : undefined
    if (value === undefined) throw this.error(`expected ${what}, found ${describe(t)}`, t)
    this.i++
    return value
  }

  private expectTime(): Instant {
    const t = this.peek()
    if (t.type !== 'word') throw this.error(`expected a time (RFC 3339 or '45m ago'), found ${describe(t)}`, t)
    const absolute = parseRfc3339(t.text)
    if (absolute !== undefined) {
      this.i++
      return absolute
    }
    const duration = parseDuration(t.text)
    if (duration === undefined) {
      throw this.error(`expected a time such as 2024-05-01T12:00:00Z or '45m ago', found '${t.text}'`, t)
    }
    this.i++
    const ago = this.peek()
    if (!this.isWord(ago, 'ago')) throw this.error(`expected 'ago' after the duration '${t.text}'`, ago)
    this.i++
    return instantBefore(this.now, duration)
  }

  private binaryOperator(t: Token): 'and' | 'or' | null {
    if (t.type === '&&' || this.isWord(t, 'and')) return 'and'
    if (t.type === '||' || this.isWord(t, 'or')) return 'or'
    return null
  }

  private isWord(t: Token | undefined, word: string): boolean {
    return t !== undefined && t.type === 'word' && t.text.toLowerCase() === word
  }

  private peek(): Token {
    return this.tokens[this.i]
  }

  private next(): Token {
    return this.tokens[this.i++]
  }

  /** From `first` to the end of the last consumed token. */
  private spanFrom(first: Token): Span {
    return {start: first.start, end: this.tokens[this.i - 1].end}
  }

  private error(reason: string, t: Token): FilterSyntaxError {
    return new FilterSyntaxError(reason, this.text, t.start, t.end - t.start)
  }
}

function describe(t: Token): string {
  return t.type === 'end' ? 'the end of the expression' : `'${t.text}'`
}

/** True when no bit beyond the prefix is set (tcpdump rejects `net 10.0.0.1/8`). */
function hostBitsClear(words: IpWords, prefixLen: number): boolean {
  return words.every((w, i) => {
    const bitsHere = Math.min(32, Math.max(0, prefixLen - 32 * i))
    const hostMask = bitsHere === 32 ? 0 : (0xffffffff >>> bitsHere)
    return (w & hostMask) === 0
  })
}
