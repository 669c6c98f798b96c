import {randomBytes} from 'node:crypto'
import {closeSync, futimesSync, linkSync, lstatSync, openSync, renameSync, rmSync, unlinkSync, writeSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import {pipeline, type Readable} from 'node:stream'
import {finished} from 'node:stream/promises'
import {createGzip} from 'node:zlib'
import {CHUNK_SIZE} from './tar-source.js'

/*
 * File system calls here are synchronous on purpose. Extraction is one sequential stream with nothing else
 * waiting on the event loop, and a thread-pool round trip for each of the ~7 calls per file (lstat, open, write,
 * futimes, close, link, unlink) left tarballs of many small files several times slower than GNU tar.
 * Inflating still runs on the thread pool, in parallel with these writes.
 */

export interface AtomicWriteOptions {
  /** Gzip the bytes on the way to disk. */
  gzip: boolean
  /** Modification time to give the file (the member's, as tar does). */
  mtime: Date
  /** Replace `dest` if it exists; otherwise an existing `dest` is left alone. */
  overwrite: boolean
}

/**
 * Streams `body` into a hidden temp file beside `dest` and moves it into place only once complete, so `dest`
 * never holds a partial file. Returns the bytes written to disk, or null when `dest` exists and overwrite is
 * off (checked at the final step, so a file that appeared meanwhile is not clobbered). On any failure the temp
 * file is removed and the error rethrown.
 */
export async function writeFileAtomically(body: Readable, dest: string, options: AtomicWriteOptions): Promise<number | null> {
  const temp = join(dirname(dest), `.${basename(dest)}.${TEMP_TAG}-${++tempCount}.partial`)
  // 'wx': never open an existing path, so a planted symlink at the temp name cannot be followed.
  const fd = openSync(temp, 'wx')
  let written = 0
  try {
    try {
      // A gzip stage goes through pipeline() so that a failure on either side ends both.
      const chunks = options.gzip ? pipeline(body, createGzip({chunkSize: CHUNK_SIZE}), noop) : body
      // The handler writes synchronously, so the next chunk cannot come before this one is on disk: that is
      // the backpressure, without an async iterator per file.
      chunks.on('data', (chunk: Buffer) => {
        try {
          written += writeFully(fd, chunk)
        } catch (err) {
          chunks.destroy(err as Error)
        }
      })
      await finished(chunks)
      futimesSync(fd, options.mtime, options.mtime)
    } finally {
      closeSync(fd)
    }
    if (!moveIntoPlace(temp, dest, options.overwrite)) {
      unlinkSync(temp)
      return null
    }
    return written
  } catch (err) {
    rmSync(temp, {force: true})
    throw err
  }
}

/** Temp names: a random tag per process and a counter, unique without a random draw per file. */
const TEMP_TAG = `pcapkit-${randomBytes(4).toString('hex')}`
let tempCount = 0

function noop(): void {}

function writeFully(fd: number, chunk: Buffer): number {
  for (let done = 0; done < chunk.length;) done += writeSync(fd, chunk, done, chunk.length - done)
  return chunk.length
}

/** Errors of link() that mean the file system has no hard links (FAT, some network mounts), not a conflict. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'])

function moveIntoPlace(temp: string, dest: string, overwrite: boolean): boolean {
  if (overwrite) {
    renameSync(temp, dest)
    return true
  }
  // link() fails with EEXIST instead of replacing: an atomic "create only if absent", which rename() is not.
  try {
    linkSync(temp, dest)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    if (!NO_HARD_LINKS.has(code ?? '')) throw err
    if (exists(dest)) return false
    renameSync(temp, dest)
    return true
  }
  unlinkSync(temp)
  return true
}

function exists(path: string): boolean {
  // No exception for a missing path: building one per file costs more than the system call.
  return lstatSync(path, {throwIfNoEntry: false}) !== undefined
}
