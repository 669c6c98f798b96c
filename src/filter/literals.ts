/** Literal values of the filter language: numbers, IPv4/IPv6 addresses and MAC addresses. Each returns undefined if the text is not one. */

/** A number as tcpdump reads one: decimal, 0x-hex, or octal when it has a leading 0 (`010` is 8). */
export function parseNumber(text: string): number | undefined {
  let value: number
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) value = parseInt(text.slice(2), 16)
  else if (/^0[0-7]+$/.test(text)) value = parseInt(text, 8)
  else if (/^(0|[1-9][0-9]*)$/.test(text)) value = parseInt(text, 10)
  else return undefined
  return Number.isSafeInteger(value) ? value : undefined
}

/** Dotted-quad IPv4 with exactly four decimal parts, as an unsigned 32-bit number. */
export function parseIpv4(text: string): number | undefined {
  const parts = dottedParts(text)
  return parts?.length === 4 ? toWord(parts) : undefined
}

/**
 * tcpdump's abbreviated network numbers for `net`: `10`, `10.1`, `10.1.2` are 10.0.0.0/8, 10.1.0.0/16,
 * 10.1.2.0/24; four parts are a /32.
 */
export function parseIpv4Network(text: string): {word: number; prefixLen: number} | undefined {
  const parts = dottedParts(text)
  if (parts === undefined) return undefined
  const prefixLen = parts.length * 8
  while (parts.length < 4) parts.push(0)
  return {word: toWord(parts), prefixLen}
}

function dottedParts(text: string): number[] | undefined {
  if (!/^\d{1,3}(\.\d{1,3}){0,3}$/.test(text)) return undefined
  const parts = text.split('.').map(Number)
  return parts.every((p) => p <= 255) ? parts : undefined
}

function toWord(parts: number[]): number {
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0
}

/** An IPv6 address (RFC 4291 text forms, including `::` and a dotted IPv4 tail) as four big-endian words. */
export function parseIpv6(text: string): [number, number, number, number] | undefined {
  // A dotted IPv4 address may end the text (::ffff:10.0.0.1); rewrite it as the two groups it stands for.
  const dotted = /^(.*:)([\d.]+)$/.exec(text)
  if (dotted !== null && dotted[2].includes('.')) {
    const v4 = parseIpv4(dotted[2])
    if (v4 === undefined) return undefined
    text = `${dotted[1]}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`
  }
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const head = hexGroups(halves[0])
  const tail = halves.length === 2 ? hexGroups(halves[1]) : []
  if (head === undefined || tail === undefined) return undefined
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail]
  return [0, 1, 2, 3].map((i) => ((groups[2 * i] << 16) | groups[2 * i + 1]) >>> 0) as [number, number, number, number]
}

/** Colon-separated 16-bit hex groups ('' is none). */
function hexGroups(text: string): number[] | undefined {
  if (text === '') return []
  const groups = text.split(':')
  return groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g)) ? groups.map((g) => parseInt(g, 16)) : undefined
}

/**
 * A MAC address: six 1-2 digit hex groups separated by ':', '-' or '.', three 4-digit groups separated by '.'
 * (Cisco style), or 12 hex digits; as its high 16 and low 32 bits.
 */
export function parseMac(text: string): {hi: number; lo: number} | undefined {
  let hex: string
  if (/^[0-9a-fA-F]{1,2}([:.-])[0-9a-fA-F]{1,2}(\1[0-9a-fA-F]{1,2}){4}$/.test(text)) {
    hex = text.split(/[:.-]/).map((g) => g.padStart(2, '0')).join('')
  } else if (/^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$/.test(text)) {
    hex = text.replaceAll('.', '')
  } else if (/^[0-9a-fA-F]{12}$/.test(text)) {
    hex = text
  } else {
    return undefined
  }
  return {hi: parseInt(hex.slice(0, 4), 16), lo: parseInt(hex.slice(4), 16)}
}
