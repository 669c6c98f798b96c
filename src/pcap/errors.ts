export type CaptureErrorCode = 'EMPTY' | 'BAD_MAGIC' | 'DAMAGED' | 'IO'

/** A problem with one capture file: reported for that file, never fatal to a run over many. */
export class CaptureError extends Error {
  constructor(message: string, readonly code: CaptureErrorCode, readonly file: string, readonly offset: number) {
    super(message)
    this.name = 'CaptureError'
  }
}

/** Turns any error met while reading a file into a one-line message that names the file. */
export function describeError(e: unknown, file: string): string {
  if (e instanceof CaptureError) return e.message
  const err = e as NodeJS.ErrnoException
  if (err?.code === 'Z_DATA_ERROR' || err?.code === 'Z_BUF_ERROR') return `${file}: corrupt gzip data (${err.message})`
  if (err?.code === 'ENOENT') return `${file}: no such file`
  if (err?.code === 'EACCES') return `${file}: permission denied`
  if (err?.code === 'EISDIR') return `${file}: is a directory`
  return `${file}: ${err?.message ?? String(e)}`
}
