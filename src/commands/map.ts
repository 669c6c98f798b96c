import * as Args from '@oclif/core/args'
import {Command} from '@oclif/core/command'
import * as Flags from '@oclif/core/flags'
import {availableParallelism} from 'node:os'
import {loadConfig} from '../config.js'
import {DEFAULT_SUFFIXES, selectionFromFlags, type DiscoveryOptions} from '../dataset/discover.js'
import {mapDataset} from '../dataset/mapper.js'
import {writeMetadata, type DatasetMeta} from '../dataset/metadata.js'
import {terminalProgress} from '../progress.js'
import {defaultIndexDir} from '../index/paths.js'
import {prose} from '../help-text.js'

export default class MapCommand extends Command {
  static summary = 'Read captures and write their metadata (times, counts, sizes, link types) as JSON.'

  static description = prose(`Walks files and directories (recursively), reads every capture (pcap µs/ns in either byte order,
pcapng, gzip-compressed ones detected by magic) on worker threads, and writes one JSON document:
the set's beginning/end and, per file, packets, size (captured bytes), data_size (wire bytes, as capinfos),
max_packet_size, snaplen, beginning/end at the file's full precision, duration, delay from the set's start,
pps, out_of_order, format, byte order, precision, link types, truncated and error.

With --dump-json (or --db), it also builds the field index that \`pcapkit query\` answers from: flows (addresses,
ports, protocol, VLAN/MPLS stack, MACs) with their record offsets, and postings from each value to its flows.

With --dump-json, a later run with the same file re-reads only files that are new or whose size or mtime
changed (--force re-reads all); files gone from disk are dropped. The JSON is written atomically.

A damaged file is reported (with the byte offset where it breaks) and the run goes on.

Exit status: 0 every file was read completely; 1 at least one file could not be read or was damaged (the JSON
is still written and says which, in "error"); 2 bad usage (unknown flag, no inputs, unreadable config).`)

  static examples = [
    {description: 'Map a directory and keep the result for replay and query', command: '<%= config.bin %> map /data/pcaps --dump-json dataset.json'},
    {description: 'gopherCap-style flags, only gzip files of one sensor', command: '<%= config.bin %> map --dir-src /data --file-suffix .pcap.gz --file-regexp "sensor-1" --dump-json s1.json'},
    {description: 'Print the metadata of one file', command: '<%= config.bin %> map capture.pcapng --json'},
    {description: 'Read settings from a YAML file (keys are the flag names)', command: '<%= config.bin %> map --config map.yaml'},
  ]

  static strict = false

  static args = {
    paths: Args.string({description: 'capture files or directories (recursive)'}),
  }

  static flags = {
    'dir-src': Flags.string({description: 'directory to walk (repeatable; same as a positional path)', multiple: true}),
    'file-suffix': Flags.string({
      description: `file name endings to take from directories, comma-separated or repeated; each also matches with .gz [default: ${DEFAULT_SUFFIXES.join(',')}]`,
      multiple: true,
    }),
    'file-regexp': Flags.string({description: 'keep only files whose full path matches this regular expression'}),
    'file-workers': Flags.integer({description: `worker threads reading files in parallel [default: number of CPUs (${availableParallelism()})]`, min: 1, max: 256}),
    'dump-json': Flags.string({description: 'write the metadata JSON here (and reuse it on the next run)'}),
    force: Flags.boolean({description: 'with --dump-json: re-read every file, even unchanged ones', default: false}),
    index: Flags.boolean({
      description: 'build/update the field index used by `pcapkit query` (needs --dump-json or --db); --no-index to skip',
      default: true, allowNo: true,
    }),
    db: Flags.string({description: 'index directory (LevelDB) [default: beside --dump-json, FILE.json → FILE.index]'}),
    config: Flags.string({description: 'YAML file with the same keys as these flags'}),
    json: Flags.boolean({description: 'print the metadata JSON to stdout', default: false}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(MapCommand)
    const fromFile = flags.config ? await this.configFrom(flags.config) : {}
    const pick = <T>(name: string, value: T | undefined): T | undefined => value ?? (fromFile[name] as T | undefined)
    const dirs = [...(argv as string[]), ...(pick<string[]>('dir-src', flags['dir-src']) ?? [])].flat()
    if (dirs.length === 0) this.error('no inputs: give capture files or directories, or --dir-src DIR', {exit: 2})
    let selection: DiscoveryOptions
    try {
      selection = selectionFromFlags(pick<string[] | string>('file-suffix', flags['file-suffix']), pick<string>('file-regexp', flags['file-regexp']))
    } catch (e) {
      this.error((e as Error).message, {exit: 2})
    }
    const workers = Number(pick('file-workers', flags['file-workers']) ?? availableParallelism())
    if (!Number.isInteger(workers) || workers < 1) this.error('--file-workers must be a whole number ≥ 1', {exit: 2})
    const dumpJson = pick<string>('dump-json', flags['dump-json'])
    const db = pick<string>('db', flags.db) ?? (dumpJson ? defaultIndexDir(dumpJson) : undefined)
    const indexDir = pick<boolean>('index', flags.index) === false ? undefined : db

    const outcome = await mapDataset({
      inputs: dirs, ...selection, workers, previous: dumpJson, force: flags.force,
      progress: await terminalProgress('map'), indexDir,
    })
    for (const p of outcome.problems) this.warn(p)
    if (outcome.meta.files.length === 0) this.error('no capture files found in the inputs', {exit: 2})
    if (dumpJson) await writeMetadata(dumpJson, outcome.meta)
    if (flags.json) this.log(JSON.stringify(outcome.meta, null, 2))
    else this.report(outcome.meta, outcome.mapped, outcome.reused, dumpJson, indexDir)
    for (const f of outcome.meta.files) if (f.error) this.logToStderr(`error: ${f.error}`)
    if (outcome.meta.failed > 0 || outcome.problems.length > 0) process.exitCode = 1
  }

  private async configFrom(path: string): Promise<Record<string, unknown>> {
    try {
      return await loadConfig(path, Object.keys(MapCommand.flags).filter((k) => k !== 'config'))
    } catch (e) {
      this.error((e as Error).message, {exit: 2})
    }
  }

  private report(meta: DatasetMeta, mapped: number, reused: number, dumpJson?: string, indexDir?: string): void {
    const lines = [
      `files:    ${meta.files.length} (${mapped} read, ${reused} unchanged since the last run), ${meta.failed} with errors`,
      `packets:  ${meta.packets}`,
      `size:     ${meta.size} bytes captured, ${meta.data_size} bytes on the wire`,
      `span:     ${meta.beginning ?? 'n/a'} .. ${meta.end ?? 'n/a'} (${meta.duration_human})`,
    ]
    if (dumpJson) lines.push(`metadata: ${dumpJson}`)
    if (indexDir) lines.push(`index:    ${indexDir}`)
    this.log(lines.join('\n'))
  }
}
