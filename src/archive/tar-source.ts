import {createReadStream, type ReadStream} from 'node:fs'
import {stat} from 'node:fs/promises'
import type {Socket} from 'node:net'
import {pipeline, type Readable} from 'node:stream'
import {createGunzip} from 'node:zlib'
import {TarballError} from './tarball-error.js'

/** Read and inflate in 1 MiB steps: fewer, larger chunks keep per-chunk overhead out of a terabyte run. */
export const CHUNK_SIZE = 1 << 20

const GZIP_MAGIC = [0x1f, 0x8b]

/** The raw bytes of a tarball (a file or stdin), inflated when they start with the gzip magic. */
export interface TarballSource {
  /** What the user named: the path, or `-` for stdin. */
  readonly name: string
  /** Plain tar bytes; errors of the underlying file or of gzip surface here. */
  readonly tarBytes: Readable
  readonly gzip: boolean
  /** Size of the (compressed) input when known: a file's size, null for stdin. */
  readonly size: number | null
  /** Bytes of the (compressed) input read so far, for progress. */
  bytesRead(): number
}

/**
 * Opens `name` (`-` for stdin) for streaming. Gzip is told by its magic bytes, never by the suffix, so a
 * `.tar` that is really gzipped, or a gzipped tar on stdin, works. Throws ENOENT/EACCES/EISDIR as they come, and a
 * TarballError for an empty input.
 */
export async function openTarball(name: string): Promise<TarballSource> {
  let raw: ReadStream | Socket
  let size: number | null = null
  if (name === '-') {
    raw = process.stdin
  } else {
    const info = await stat(name)
    if (info.isDirectory()) throw Object.assign(new Error(`${name} is a directory`), {code: 'EISDIR'})
    size = info.size
    raw = createReadStream(name, {highWaterMark: CHUNK_SIZE})
  }
  const head = await peek(raw, GZIP_MAGIC.length)
  // An empty input is most often a failed download upstream of a pipe: say so rather than extract nothing.
  if (head.length === 0) throw new TarballError(`${name === '-' ? 'stdin' : name} is empty, not a tarball`, 'TRUNCATED', null, false)
  const gzip = head.length === GZIP_MAGIC.length && GZIP_MAGIC.every((byte, i) => head[i] === byte)
  // pipeline() passes a read error of the file on to gunzip, so consumers watch one stream for every failure.
  const tarBytes = gzip ? pipeline(raw, createGunzip({chunkSize: CHUNK_SIZE}), () => {}) : raw
  return {name, tarBytes, gzip, size, bytesRead: () => raw.bytesRead}
}

/** The first `n` bytes of `stream` (fewer if it is shorter), left in the stream for the next reader. */
async function peek(stream: Readable, n: number): Promise<Buffer> {
  for (;;) {
    // read(n) returns null until n bytes are buffered, or the short rest once the stream has ended.
    const head: Buffer | null = stream.read(n)
    if (head !== null) {
      stream.unshift(head)
      return head
    }
    if (stream.readableEnded) return Buffer.alloc(0)
    await new Promise<void>((resolve, reject) => {
      const settle = (err?: Error): void => {
        stream.off('readable', settle).off('end', settle).off('error', settle)
        if (err) reject(err)
        else resolve()
      }
      stream.on('readable', settle).on('end', settle).on('error', settle)
    })
  }
}
