/** A filter expression that does not parse; carries where, so a CLI can point at the offending token. */
export class FilterSyntaxError extends Error {
  readonly code = 'FILTER_SYNTAX'
  /** 1-based column of the offending token's first character. */
  readonly column: number

  constructor(
    /** What is wrong, without the position (the message adds it). */
    readonly reason: string,
    readonly expression: string,
    /** 0-based offset of the offending token and its length (at least 1, so a caret always shows). */
    readonly position: number,
    readonly length: number,
  ) {
    const caretLen = Math.max(1, length)
    super(`${reason} at column ${position + 1}\n  ${expression}\n  ${' '.repeat(position)}${'^'.repeat(caretLen)}`)
    this.name = 'FilterSyntaxError'
    this.column = position + 1
  }
}
