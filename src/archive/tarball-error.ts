export type TarballErrorCode = 'TRUNCATED' | 'CORRUPT' | 'READ'

/** The tarball itself is broken or unreadable; names the member where it happened. */
export class TarballError extends Error {
  constructor(
    message: string,
    readonly code: TarballErrorCode,
    /** Path of the member being read when it broke (or the last one before), null before the first. */
    readonly member: string | null,
    /** True when the member's own bytes were cut, false when the damage lies after its end. */
    readonly inMember: boolean,
  ) {
    super(message)
    this.name = 'TarballError'
  }
}

// tar-stream reports by message only; zlib also sets a code (Z_BUF_ERROR when cut, Z_DATA_ERROR when damaged).
const TRUNCATION = /unexpected end/i
const CORRUPTION = /invalid (tar )?header|header exceeds/i

/** Classifies a failure met while reading a tarball and names where it happened. */
export function toTarballError(err: unknown, member: string | null, inMember: boolean): TarballError {
  if (err instanceof TarballError) return err
  const cause = err as NodeJS.ErrnoException
  const detail = cause?.message ?? String(err)
  const code: TarballErrorCode = TRUNCATION.test(detail) || cause?.code === 'Z_BUF_ERROR' ? 'TRUNCATED'
    : CORRUPTION.test(detail) || cause?.code === 'Z_DATA_ERROR' ? 'CORRUPT'
      : 'READ'
  if (member === null && code === 'CORRUPT') return new TarballError(`not a tar archive (${detail})`, code, null, false)
  const what = {TRUNCATED: 'tarball ends early', CORRUPT: 'tarball is damaged', READ: 'cannot read tarball'}[code]
  const where = member === null ? 'before the first member' : inMember ? `in member ${member}` : `after member ${member}`
  return new TarballError(`${what} ${where} (${detail})`, code, member, inMember)
}
