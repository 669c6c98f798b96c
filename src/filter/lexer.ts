import {FilterSyntaxError} from './errors.js'

type TokenType = 'word' | '(' | ')' | '!' | '&&' | '||' | 'end'

export interface Token {
  type: TokenType
  /** The token's characters as written (case preserved). */
  text: string
  /** 0-based offsets into the expression: [start, end). */
  start: number
  end: number
}

/** Characters that end a word; everything else (addresses, CIDRs, port ranges, RFC 3339 times) stays in one word. */
const DELIMITERS = new Set(['(', ')', '!', '&', '|', '<', '>', '=', '[', ']'])

/** Splits a filter expression into words and operators; the list ends with an 'end' token. */
export function tokenize(expression: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  while (i < expression.length) {
    const c = expression[i]
    if (/\s/.test(c)) {
      i++
      continue
    }
    const two = expression.slice(i, i + 2)
    if (two === '&&' || two === '||') {
      tokens.push({type: two, text: two, start: i, end: i + 2})
      i += 2
    } else if (c === '(' || c === ')' || c === '!') {
      // '!=' is a comparison, which the language lacks; keep it whole so the error shows both characters.
      if (two === '!=') unsupported(expression, i, 2)
      tokens.push({type: c, text: c, start: i, end: i + 1})
      i++
    } else if (DELIMITERS.has(c)) {
      unsupported(expression, i, 1)
    } else {
      const start = i
      while (i < expression.length && !/\s/.test(expression[i]) && !DELIMITERS.has(expression[i])) i++
      tokens.push({type: 'word', text: expression.slice(start, i), start, end: i})
    }
  }
  tokens.push({type: 'end', text: '', start: expression.length, end: expression.length})
  return tokens
}

function unsupported(expression: string, at: number, length: number): never {
  const c = expression[at]
  const reason = c === '&' || c === '|'
    ? `unexpected '${c}' (write '${c}${c}', 'and' or 'or')`
    : `unexpected '${expression.slice(at, at + length)}': comparisons and packet-data accessors such as ip[9] = 6 are not supported`
  throw new FilterSyntaxError(reason, expression, at, length)
}
