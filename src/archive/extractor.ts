import {lstatSync} from 'node:fs'
import {mkdir, realpath} from 'node:fs/promises'
import {basename, dirname, join, posix, sep} from 'node:path'
import type {Readable} from 'node:stream'
import {writeFileAtomically} from './atomic-file.js'
import {planMember, type Skip, type SkipCode} from './member-safety.js'
import {tarMembers, type MemberSelector, type TarMember} from './tar-members.js'
import {TarballError} from './tarball-error.js'

export interface ExtractOptions {
  outDir: string
  /** Members whose path (see TarMember.path) matches are selected; null selects every member. */
  match: RegExp | null
  /** Write every file straight into outDir; a second member with the same file name is skipped, not merged. */
  flatten: boolean
  /** Replace files that already exist in outDir (from before this run). */
  overwrite: boolean
  /** Gzip each file on the way out and add `.gz` to its name. */
  gzipOutput: boolean
  /** Decide everything, write nothing (not even outDir). */
  dryRun: boolean
}

/** A selected member that was written (in a dry run: would be). */
export interface ExtractedMember {
  path: string
  size: number
  mtime: Date
  /** Where it went, relative to outDir. */
  dest: string
  /** Bytes on disk (after gzip with gzipOutput); 0 in a dry run. */
  bytesWritten: number
}

export interface SkippedMember extends Skip {
  path: string
  /** The member's tar type (file, symlink, link, fifo…). */
  type: string
}

/** Told about each selected member as it is decided, so listings stream instead of piling up in memory. */
export interface ExtractListener {
  extracted?(member: ExtractedMember): void
  skipped?(member: SkippedMember): void
}

export interface ExtractSummary {
  /** Every entry read from the tarball, folders included. */
  seen: number
  /** Entries other than folders that the regexp selected. */
  matched: number
  extracted: number
  skipped: number
  skippedBy: Partial<Record<SkipCode, number>>
  bytesWritten: number
  /** What stopped the run early (a broken tarball, a failed write); members finished before stay in place. */
  failure: {member: string | null; message: string} | null
}

/**
 * Extracts the selected members of a tarball into outDir, one at a time as they stream past. Never writes
 * outside outDir: unsafe paths, links and special files are skipped (see planMember), and folders are resolved
 * through any symlinks already in outDir before anything is written into them. Files appear complete or not
 * at all (see writeFileAtomically). `summary` is live, for progress displays.
 */
export class TarExtractor {
  readonly summary: ExtractSummary = {
    seen: 0, matched: 0, extracted: 0, skipped: 0, skippedBy: {}, bytesWritten: 0, failure: null,
  }

  /** With --flatten: which member claimed each file name, so a second one is reported instead of overwriting. */
  private readonly claimedBy: Map<string, string> | null
  /** Folders (relative to outDir) already checked to resolve inside outDir, and their real paths. */
  private readonly safeFolders = new Map<string, string>()
  private realOutDir = ''

  constructor(private readonly options: ExtractOptions, private readonly listener: ExtractListener = {}) {
    this.claimedBy = options.flatten ? new Map() : null
  }

  /**
   * Reads `tarBytes` (plain tar, see openTarball) to the end or to the first failure, which lands in
   * `summary.failure` rather than being thrown. Throws only when outDir itself cannot be created or resolved.
   */
  async run(tarBytes: Readable): Promise<ExtractSummary> {
    if (!this.options.dryRun) {
      await mkdir(this.options.outDir, {recursive: true})
      this.realOutDir = await realpath(this.options.outDir)
    }
    let current: string | null = null
    try {
      for await (const member of tarMembers(tarBytes, this.select)) {
        current = member.path
        this.summary.matched++
        await this.take(member)
      }
    } catch (err) {
      this.summary.failure = err instanceof TarballError
        ? {member: err.member, message: err.message}
        : {member: current, message: `cannot write ${current}: ${(err as Error).message}`}
    }
    return this.summary
  }

  private readonly select: MemberSelector = (path, header) => {
    this.summary.seen++
    // Folders are created for the files inside them; their own entries carry nothing else we keep.
    return header.type !== 'directory' && (this.options.match?.test(path) ?? true)
  }

  private async take(member: TarMember): Promise<void> {
    const plan = planMember(member.path, member.header)
    if ('skip' in plan) return this.skip(member, plan.skip)
    const dest = this.destination(plan.write)
    const claimant = this.claimedBy?.get(dest)
    if (claimant !== undefined) {
      return this.skip(member, {code: 'collision', reason: `${dest} is already taken by ${claimant} (--flatten drops folders)`})
    }
    let target = join(this.options.outDir, dest)
    if (!this.options.dryRun) {
      const folder = await this.safeFolder(posix.dirname(dest))
      if (typeof folder !== 'string') return this.skip(member, folder.skip)
      target = join(folder, posix.basename(dest))
    }
    // Checked before reading the member so a re-run skips existing files without inflating them again.
    const present = lstatSync(target, {throwIfNoEntry: false})
    if (present?.isDirectory()) return this.skip(member, {code: 'exists', reason: `${dest} is a folder in the out dir`})
    if (present && !this.options.overwrite) return this.skip(member, existing(dest))
    let bytesWritten = 0
    if (!this.options.dryRun) {
      const written = await writeFileAtomically(member.stream, target, {
        gzip: this.options.gzipOutput, mtime: member.header.mtime, overwrite: this.options.overwrite,
      })
      if (written === null) return this.skip(member, existing(dest))
      bytesWritten = written
    }
    this.claimedBy?.set(dest, member.path)
    this.summary.extracted++
    this.summary.bytesWritten += bytesWritten
    this.listener.extracted?.({path: member.path, size: member.header.size, mtime: member.header.mtime, dest, bytesWritten})
  }

  /** Path relative to outDir, `/`-separated. */
  private destination(relPath: string): string {
    const name = this.options.flatten ? posix.basename(relPath) : relPath
    return this.options.gzipOutput ? `${name}.gz` : name
  }

  /**
   * The real path of outDir/relDir, created if missing, provided it resolves inside outDir: folders already in
   * outDir may be symlinks to elsewhere, and writing through one would escape. Resolved before mkdir, so not
   * even an empty folder is created outside.
   */
  private async safeFolder(relDir: string): Promise<string | {skip: Skip}> {
    const known = this.safeFolders.get(relDir)
    if (known !== undefined) return known
    let real: string
    try {
      real = await resolveExisting(join(this.realOutDir, relDir))
      if (real !== this.realOutDir && !real.startsWith(this.realOutDir + sep)) {
        return {skip: {code: 'unsafe-folder', reason: `folder ${relDir} leads to ${real}, outside the out dir`}}
      }
      await mkdir(real, {recursive: true})
    } catch (err) {
      return {skip: {code: 'folder-blocked', reason: `cannot create folder ${relDir}: ${(err as Error).message}`}}
    }
    this.safeFolders.set(relDir, real)
    return real
  }

  private skip(member: TarMember, skip: Skip): void {
    this.summary.skipped++
    this.summary.skippedBy[skip.code] = (this.summary.skippedBy[skip.code] ?? 0) + 1
    this.listener.skipped?.({path: member.path, type: member.header.type ?? 'unknown', ...skip})
  }
}

function existing(dest: string): Skip {
  return {code: 'exists', reason: `${dest} already exists in the out dir (--overwrite replaces it)`}
}

/** realpath() of the longest existing prefix of `path`, with the missing rest appended unchanged. */
async function resolveExisting(path: string): Promise<string> {
  try {
    return await realpath(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    return join(await resolveExisting(dirname(path)), basename(path))
  }
}
