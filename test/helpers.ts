import {execFileSync, spawnSync, type SpawnSyncReturns} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** Public captures beside the checkout (CI has them); tests that need them skip when absent. */
export const SHARED = resolve(ROOT, '../shared/pcaps')
export const CORPUS = join(SHARED, 'corpus/tcpdump')
export const HAVE_SHARED = existsSync(SHARED)
export const TESTDATA = join(ROOT, 'testdata')

const CAPTURE = /\.(pcap|pcapng|cap)(\.gz)?$/

/** Capture files directly in `dir`, sorted. */
export function capturesIn(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir).filter((f) => CAPTURE.test(f)).sort().map((f) => join(dir, f))
}

export function hasTool(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0
}

/** Runs the built CLI (dist) and returns its output without throwing on a non-zero exit. */
export function runCli(args: string[], opts: {input?: Buffer | string; env?: NodeJS.ProcessEnv} = {}): SpawnSyncReturns<Buffer> {
  return spawnSync(process.execPath, [join(ROOT, 'bin/run.js'), ...args], {
    input: opts.input, env: {...process.env, ...opts.env}, maxBuffer: 1 << 30,
  })
}

export function tool(cmd: string, args: string[]): Buffer {
  return execFileSync(cmd, args, {maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe']})
}

/** A temporary directory removed when the test ends. */
export function tempDir(t: {after: (fn: () => void) => void}, prefix = 'pcapkit-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => rmSync(d, {recursive: true, force: true}))
  return d
}

/** oclif wraps error messages to the terminal width, prefixing lines with ' ›'; tests read them unwrapped. */
export function errorText(r: SpawnSyncReturns<Buffer>): string {
  return r.stderr.toString().replace(/\s*\n\s*›\s*/g, ' ')
}

/** A classic pcap file header: little-endian, microseconds. */
export function pcapHeader(linkType = 1, snaplen = 65535): Buffer {
  const h = Buffer.alloc(24)
  h.writeUInt32LE(0xa1b2c3d4, 0)
  h.writeUInt16LE(2, 4)
  h.writeUInt16LE(4, 6)
  h.writeUInt32LE(snaplen, 16)
  h.writeUInt32LE(linkType, 20)
  return h
}

/** A classic pcap record (little-endian header) around `data`. */
export function pcapRecord(sec: number, usec: number, data: Buffer, origLen = data.length, caplen = data.length): Buffer {
  const h = Buffer.alloc(16)
  h.writeUInt32LE(sec, 0)
  h.writeUInt32LE(usec, 4)
  h.writeUInt32LE(caplen, 8)
  h.writeUInt32LE(origLen, 12)
  return Buffer.concat([h, data])
}
