import {posix} from 'node:path'
import type {Header} from 'tar-stream'

/** Why a selected member was not written. Stable strings: summaries count them and --json prints them. */
export type SkipCode =
  // the member's own path
  | 'absolute-path' | 'parent-folder' | 'empty-path'
  // its type: only regular files are ever created
  | 'symlink' | 'hardlink' | 'device' | 'fifo' | 'unsupported-type'
  // its destination
  | 'exists' | 'collision' | 'unsafe-folder' | 'folder-blocked'

export interface Skip {
  code: SkipCode
  reason: string
}

/** A selected member either becomes a regular file at `write` (relative to the out dir, `/`-separated) or is skipped. */
export type MemberPlan = {write: string} | {skip: Skip}

/**
 * Decides from the header alone whether a member may be written, and where. Links are never created, even
 * ones that stay inside the out dir: a created symlink can redirect later members (`a -> ..`, then `a/x`),
 * and checking every write against every link made so far costs more than datasets gain from links. The
 * skip reason says whether a link pointed outside.
 */
export function planMember(path: string, header: Header): MemberPlan {
  const relative = safeRelativePath(path)
  if ('skip' in relative) return relative
  const rel = relative.write
  // tar-stream gives null for type flags it does not know, whatever its typings say.
  const type: string | null = header.type
  switch (type) {
    case 'file':
    case 'contiguous-file':
      return relative
    case 'symlink': {
      const target = header.linkname
      const outside = target.startsWith('/') || climbsOut(posix.join(posix.dirname(rel), target))
      return skip('symlink', outside
        ? `symbolic link to ${target}, which is outside the out dir`
        : `symbolic link to ${target} (links are never created)`)
    }
    case 'link': {
      // A hard link names another member of the archive, relative to the archive's root.
      const target = header.linkname
      const outside = target.startsWith('/') || climbsOut(target)
      return skip('hardlink', outside
        ? `hard link to ${target}, which is outside the out dir`
        : `hard link to ${target} (links are never created; that member is extracted on its own)`)
    }
    case 'character-device':
    case 'block-device':
      return skip('device', `${type} (devices are never created)`)
    case 'fifo':
      return skip('fifo', 'FIFO (named pipes are never created)')
    default:
      return skip('unsupported-type', `unsupported entry type ${type ?? 'unknown'}`)
  }
}

/** `a//./b` → `a/b`; absolute paths and `..` anywhere are refused rather than repaired, as the user should know. */
function safeRelativePath(path: string): MemberPlan {
  if (path.startsWith('/')) return skip('absolute-path', 'absolute path (only relative paths are extracted)')
  const parts = path.split('/').filter((part) => part !== '' && part !== '.')
  if (parts.includes('..')) return skip('parent-folder', "path contains '..' (it could climb out of the out dir)")
  if (parts.length === 0) return skip('empty-path', 'empty path')
  return {write: parts.join('/')}
}

function climbsOut(relativePath: string): boolean {
  const normal = posix.normalize(relativePath)
  return normal === '..' || normal.startsWith('../')
}

function skip(code: SkipCode, reason: string): {skip: Skip} {
  return {skip: {code, reason}}
}
