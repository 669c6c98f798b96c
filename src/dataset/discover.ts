import {readdir, stat} from 'node:fs/promises'
import {join, resolve} from 'node:path'
import {TARBALL_NAME} from '../archive/member-name.js'

export const DEFAULT_SUFFIXES = ['.pcap', '.pcapng', '.cap']

export interface DiscoveryOptions {
  /** File name endings to accept; each also matches with a trailing .gz. */
  suffixes?: string[]
  /** Applied to the full path; files that do not match are left out. */
  regexp?: RegExp
}

/**
 * The file selection flags shared by commands that walk directories (gopherCap's --file-suffix and --file-regexp):
 * suffixes comma-separated or repeated, with or without their dot. Throws on an invalid regular expression.
 */
export function selectionFromFlags(suffixFlags: string[] | string | undefined, regexpText: string | undefined): DiscoveryOptions {
  const suffixes = [suffixFlags ?? []].flat().flatMap((s) => String(s).split(',')).map((s) => s.trim()).filter(Boolean)
    .map((s) => (s.startsWith('.') ? s : `.${s}`))
  let regexp: RegExp | undefined
  try {
    regexp = regexpText ? new RegExp(regexpText) : undefined
  } catch (e) {
    throw new Error(`--file-regexp: ${(e as Error).message}`)
  }
  return {suffixes, regexp}
}

export interface FoundFile {
  path: string
  size: number
  mtimeMs: number
  /** A tarball whose capture members are mapped from the stream. */
  tarball: boolean
}

export interface Discovery {
  files: FoundFile[]
  /** Inputs that could not be read (missing, permission), each with a message. */
  problems: string[]
}

/** Whether a file name carries one of the capture suffixes (each also with .gz). */
export function acceptsName(name: string, suffixes: string[]): boolean {
  const lower = name.toLowerCase()
  const base = lower.endsWith('.gz') ? lower.slice(0, -3) : lower
  return suffixes.some((s) => base.endsWith(s.toLowerCase()) || lower.endsWith(s.toLowerCase()))
}

/**
 * Expands files and directories (recursively) into capture files and tarballs (.tar, .tar.gz, .tgz). Files named
 * explicitly are taken whatever their suffix; files found in directories must carry one of the suffixes. Sorted,
 * each path once.
 */
export async function discoverCaptures(inputs: string[], opts: DiscoveryOptions = {}): Promise<Discovery> {
  const suffixes = opts.suffixes?.length ? opts.suffixes : DEFAULT_SUFFIXES
  const found = new Map<string, FoundFile>()
  const problems: string[] = []
  const keep = (path: string, size: number, mtimeMs: number): void => {
    // A tarball is kept whatever its name matches: the regexp is applied to its members (ARCHIVE#member).
    const tarball = TARBALL_NAME.test(path)
    if (tarball || !opts.regexp || opts.regexp.test(path)) found.set(path, {path, size, mtimeMs, tarball})
  }
  const walk = async (dir: string): Promise<void> => {
    let entries
    try {
      entries = await readdir(dir, {withFileTypes: true})
    } catch (e) {
      problems.push(`${dir}: ${(e as Error).message}`)
      return
    }
    for (const ent of entries) {
      const p = join(dir, ent.name)
      if (ent.isDirectory()) await walk(p)
      else if ((ent.isFile() || ent.isSymbolicLink()) && (acceptsName(ent.name, suffixes) || TARBALL_NAME.test(ent.name))) {
        try {
          const st = await stat(p)
          if (st.isFile()) keep(p, st.size, st.mtimeMs)
        } catch (e) {
          problems.push(`${p}: ${(e as Error).message}`)
        }
      }
    }
  }
  for (const input of inputs) {
    const p = resolve(input)
    try {
      const st = await stat(p)
      if (st.isDirectory()) await walk(p)
      else keep(p, st.size, st.mtimeMs)
    } catch {
      problems.push(`${input}: no such file or directory`)
    }
  }
  return {files: [...found.values()].sort((a, b) => a.path.localeCompare(b.path)), problems}
}
