import {readFileSync} from 'node:fs'

/**
 * Reads a YAML config whose keys are the command's flag names (gopherCap style: `dir-src`, `file-suffix`…).
 * Values given on the command line win over the file.
 */
export async function loadConfig(path: string, known: string[]): Promise<Record<string, unknown>> {
  let data: unknown
  try {
    // yaml is loaded only when a config is given: it adds to every command's start-up.
    const {parse} = await import('yaml')
    data = parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new Error(`cannot read config ${path}: ${(e as Error).message}`)
  }
  if (data === null || data === undefined) return {}
  if (typeof data !== 'object' || Array.isArray(data)) throw new Error(`config ${path} must be a mapping of flag names to values`)
  const unknown = Object.keys(data).filter((k) => !known.includes(k))
  if (unknown.length > 0) throw new Error(`config ${path}: unknown key(s) ${unknown.join(', ')}; known: ${known.join(', ')}`)
  return data as Record<string, unknown>
}
