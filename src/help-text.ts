/**
 * Joins the hard-wrapped lines of a help text into paragraphs, so oclif wraps them to the terminal's width
 * instead of breaking our lines a second time. Blank lines separate paragraphs; lines starting with '-', '*',
 * a digit and ')' or '.', or indentation start a new line (lists, tables).
 */
export function prose(text: string): string {
  const out: string[] = []
  for (const line of text.split('\n')) {
    const starts = /^\s*$/.test(line) || /^(\s+|[-*] |\d+[.)] )/.test(line)
    const prev = out.length > 0 ? out[out.length - 1] : ''
    if (starts || prev === '' || out.length === 0) out.push(line)
    else out[out.length - 1] = `${prev} ${line.trim()}`
  }
  return out.join('\n')
}
