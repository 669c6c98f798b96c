/** Captures inside tarballs are named ARCHIVE#path/in/archive in metadata and on the command line. */
export const MEMBER_SEPARATOR = '#'

/** Tarballs are recognised by name when walking inputs (their content is then checked by magic). */
export const TARBALL_NAME = /\.(tar|tar\.gz|tgz)$/i

export function memberName(archive: string, member: string): string {
  return `${archive}${MEMBER_SEPARATOR}${member}`
}

/** Splits ARCHIVE#member where ARCHIVE is a tarball name; null for ordinary paths. */
export function splitMemberName(name: string): {archive: string; member: string} | null {
  const at = name.indexOf(MEMBER_SEPARATOR)
  if (at < 0 || !TARBALL_NAME.test(name.slice(0, at))) return null
  return {archive: name.slice(0, at), member: name.slice(at + 1)}
}
