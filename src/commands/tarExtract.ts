import {Command} from '@oclif/core/command'
import * as Flags from '@oclif/core/flags'
import {resolve} from 'node:path'
import {TarExtractor, type ExtractedMember, type ExtractSummary, type SkippedMember} from '../archive/extractor.js'
import {progressText, summaryText} from '../archive/report.js'
import {StatusLine} from '../archive/status-line.js'
import {openTarball, type TarballSource} from '../archive/tar-source.js'
import {TarballError} from '../archive/tarball-error.js'
import {describeError} from '../pcap/errors.js'
import {prose} from '../help-text.js'

/** Exit statuses, as documented in the description. */
const EXIT_BROKEN = 1
const EXIT_USAGE = 2
const EXIT_SKIPPED = 3
const EXIT_INTERRUPTED = 130

interface TarExtractResult {
  tarball: string
  gzip: boolean
  outDir: string
  dryRun: boolean
  /** Selected members written (in a dry run: that would be). */
  members: (Omit<ExtractedMember, 'mtime'> & {mtime: string})[]
  skipped: SkippedMember[]
  summary: ExtractSummary & {bytesRead: number; seconds: number}
}

export default class TarExtract extends Command {
  static aliases = ['tar-extract']

  static summary = 'Extract selected members of a big (gzipped) tarball, streaming, without writing outside the out dir.'

  static description = prose(`Reads the tarball once, front to back, in constant memory: a file or stdin (-), plain or gzip-compressed (told by its first bytes, not its name). Members whose path matches --file-regexp are written under --out-dir with their folders kept, so members with the same name in different folders never collide (--flatten drops the folders; a second member with a taken name is then reported and skipped). A file that already exists is left alone unless --overwrite is given. Files get the member's modification time.

Each file is written to a hidden temp name beside its destination and renamed when complete. If the tarball ends early or is damaged, the members completed so far stay, the partial one is removed, and the error names the member where it broke. (A tarball cut exactly between two members cannot be told from a complete one; GNU tar accepts it too.)

Only regular files are created. These members are reported and skipped, with the reason: absolute paths, paths containing "..", symbolic and hard links (never created, even when they point inside the out dir, since a link could redirect later members; the reason says when the target lies outside), devices and FIFOs. Folders already in the out dir that are symlinks leading outside it are not written through.

Paths as matched and shown drop a leading "./". Folder entries are counted as seen but never "selected".

Exit status: 0 every selected member was extracted (or, with --dryrun, would be); 1 the tarball is truncated, damaged or unreadable, or a write failed (completed members stay); 2 bad usage (unknown flag, invalid regexp, missing tarball, unusable out dir); 3 the run finished but some selected members were skipped (unsafe, link, special file, existing file, --flatten collision); 130 interrupted (Ctrl-C; the partial file is removed).`)

  static examples = [
    {
      description: 'Extract one sensor\'s captures from a gzipped tarball, keeping folders',
      command: '<%= config.bin %> <%= command.id %> --in-tarball dataset.tar.gz --file-regexp \'^sensor-1/.*\\.pcap$\' --out-dir ./sensor-1',
    },
    {
      description: 'See what would be extracted (path, size, mtime) without writing anything',
      command: '<%= config.bin %> <%= command.id %> --in-tarball dataset.tar.gz --file-regexp \'\\.pcapng?$\' --dryrun',
    },
    {
      description: 'Stream a download straight through, storing each capture gzipped in one flat folder',
      command: 'curl -s https://example.org/dataset.tar | <%= config.bin %> tar-extract --in-tarball - --out-dir caps --flatten --out-gzip',
    },
    {
      description: 'Machine-readable listing and summary',
      command: '<%= config.bin %> <%= command.id %> --in-tarball dataset.tar --dryrun --json',
    },
  ]

  static enableJsonFlag = true

  static flags = {
    'in-tarball': Flags.string({
      char: 'i', required: true, helpValue: 'FILE',
      description: 'tarball to read, plain or gzip-compressed; - reads stdin',
    }),
    'file-regexp': Flags.string({
      char: 'r', helpValue: 'RE',
      description: 'extract members whose path matches this regular expression (JavaScript syntax, unanchored) [default: all]',
    }),
    'out-dir': Flags.string({
      char: 'o', default: '.', helpValue: 'DIR',
      description: 'folder to extract into, created if missing',
    }),
    'out-gzip': Flags.boolean({description: 'gzip each extracted file, adding .gz to its name', default: false}),
    flatten: Flags.boolean({description: 'drop the members\' folders; name collisions are reported and skipped', default: false}),
    overwrite: Flags.boolean({description: 'replace files that already exist in the out dir', default: false}),
    dryrun: Flags.boolean({
      aliases: ['dry-run'], default: false,
      description: 'list what would be extracted (path, size, mtime) and what skipped; write nothing',
    }),
  }

  async run(): Promise<TarExtractResult> {
    const {flags} = await this.parse(TarExtract)
    const match = this.regexp(flags['file-regexp'])
    const source = await this.open(flags['in-tarball'])
    const json = this.jsonEnabled()
    const members: TarExtractResult['members'] = []
    const skipped: SkippedMember[] = []
    const status = new StatusLine(() => progressText(extractor.summary, source.bytesRead(), source.size))
    const extractor = new TarExtractor({
      outDir: flags['out-dir'], match, flatten: flags.flatten, overwrite: flags.overwrite,
      gzipOutput: flags['out-gzip'], dryRun: flags.dryrun,
    }, {
      // Text mode streams the listing and warnings; --json must hold them for the one document at the end.
      extracted: (member) => {
        if (json) members.push({...member, mtime: member.mtime.toISOString()})
        else if (flags.dryrun) this.log(`${member.path}\t${member.size}\t${member.mtime.toISOString()}`)
      },
      skipped: (member) => {
        if (json) skipped.push(member)
        else status.print(`skipped ${member.path}: ${member.reason}`)
      },
    })

    const started = performance.now()
    let interrupted = false
    // Ctrl-C stops the stream, so the file being written is removed like after a truncated tarball.
    const interrupt = (): void => {
      interrupted = true
      source.tarBytes.destroy(new Error('interrupted'))
    }
    process.once('SIGINT', interrupt)
    status.start()
    let summary: ExtractSummary
    try {
      summary = await extractor.run(source.tarBytes)
    } catch (err) {
      this.error(`cannot use --out-dir ${flags['out-dir']}: ${(err as Error).message}`, {exit: EXIT_USAGE})
    } finally {
      status.stop()
      process.off('SIGINT', interrupt)
    }
    const seconds = (performance.now() - started) / 1000

    if (!json) {
      this.logToStderr(summaryText(summary, {dryRun: flags.dryrun, bytesRead: source.bytesRead(), seconds}))
      if (summary.failure) this.logToStderr(`error: ${summary.failure.message}`)
    }
    process.exitCode = interrupted ? EXIT_INTERRUPTED
      : summary.failure ? EXIT_BROKEN
        : summary.skipped > 0 ? EXIT_SKIPPED
          : 0
    return {
      tarball: source.name, gzip: source.gzip, outDir: resolve(flags['out-dir']), dryRun: flags.dryrun,
      members, skipped, summary: {...summary, bytesRead: source.bytesRead(), seconds},
    }
  }

  private regexp(text: string | undefined): RegExp | null {
    if (text === undefined) return null
    try {
      return new RegExp(text)
    } catch (err) {
      this.error(`--file-regexp: ${(err as Error).message}`, {exit: EXIT_USAGE})
    }
  }

  private async open(name: string): Promise<TarballSource> {
    if (name === '-' && process.stdin.isTTY) this.error('--in-tarball -: stdin is a terminal; pipe a tarball in', {exit: EXIT_USAGE})
    try {
      return await openTarball(name)
    } catch (err) {
      if (err instanceof TarballError) this.error(err.message, {exit: EXIT_BROKEN})
      this.error(`--in-tarball ${describeError(err, name)}`, {exit: EXIT_USAGE})
    }
  }
}
