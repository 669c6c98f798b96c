import * as Args from '@oclif/core/args'
import {Command} from '@oclif/core/command'
import * as Flags from '@oclif/core/flags'
import {availableParallelism} from 'node:os'
import {parseDuration} from '../dataset/timefmt.js'
import {terminalProgress} from '../progress.js'
import {loadRuleFile, RuleError} from '../split/rules.js'
import type {RuleSource} from '../split/compiled-rules.js'
import {runFilter} from '../split/run-filter.js'
import type {SplitCounts} from '../split/splitter.js'
import {prose} from '../help-text.js'

export default class FilterCommand extends Command {
  static summary = 'Split a dataset by rules in one pass: one output set per rule, optionally decapsulated and deduplicated.'

  static description = prose(`Reads every capture of the inputs (files, directories walked recursively, tarballs) once and writes,
for each rule that a packet matches, OUT/RULE/<input base name>.pcap (pcapng for pcapng inputs and with --decap;
.gz added with --out-gzip). A rule that matches nothing in an input leaves no file. Outputs are written atomically.

Rules file (YAML): a map of rule name → {expr: FILTER} in pcapkit's filter language (see \`pcapkit query --help\`;
the same meaning as tcpdump's for that subset), or gopherCap's {conditions: [{kind, negate, match}]} with kinds
subnet (CIDR), port (N/tcp, N/udp), ether (MAC) and raw (FILTER): conditions ANDed, match items ORed. Files written for
gopherCap's filter load unchanged. A rule file with any error is rejected before anything is read.

Order per packet: --decap strips tunnels (GRE incl. ERSPAN I/II/III, VXLAN on UDP 4789, Geneve on UDP 6081), then
--dedup drops repeats, then every rule is checked against the (inner) packet: rules see decapsulated packets.
A tunnel that cannot be opened (unknown payload, a fragment, cut short) is counted and its packet kept as it was
(or dropped with --decap-drop-failed). A duplicate is the same IP packet apart from TTL/hop limit, IPv4 checksum
and link layer, within --dedup-window of packet time, in the same input file.

Exit status: 0 done; 1 an input could not be read or was damaged (packets before the damage are written); 2 bad
usage (rules file, flags, no inputs).`)

  static examples = [
    {description: 'Split a directory by the rules in rules.yaml', command: '<%= config.bin %> filter /data/pcaps --rules rules.yaml --out-dir /data/split'},
    {description: 'Decapsulate ERSPAN/VXLAN, drop duplicates, gzip the outputs, report as JSON', command: '<%= config.bin %> filter /data/mirror --rules rules.yaml -o out --decap --dedup --out-gzip --json'},
    {description: 'A gopherCap rule file, unchanged', command: '<%= config.bin %> filter capture.tar.gz --rules gophercap-filter.yaml -o out --workers 8'},
  ]

  static strict = false

  static args = {
    inputs: Args.string({description: 'capture files, directories (recursive) or tarballs'}),
  }

  static flags = {
    rules: Flags.string({description: 'YAML rules file: name → {expr: FILTER} or {conditions: [...]} (gopherCap)', required: true}),
    'out-dir': Flags.string({char: 'o', description: 'directory for OUT/RULE/<input>.pcap', required: true}),
    'out-gzip': Flags.boolean({description: 'gzip the outputs (.pcap.gz)', default: false}),
    fsync: Flags.boolean({
      description: 'fsync each output before renaming it into place (survives a power cut; runs at disk speed) [default: off, as tcpdump -w]',
      default: false,
    }),
    decap: Flags.boolean({description: 'strip GRE/ERSPAN/VXLAN/Geneve tunnel layers before the rules are checked', default: false}),
    'decap-depth': Flags.integer({description: 'with --decap: strip at most N tunnel layers [default: all]', min: 1, dependsOn: ['decap']}),
    'decap-drop-failed': Flags.boolean({description: 'with --decap: drop tunnelled packets that cannot be decapsulated instead of keeping them', default: false, dependsOn: ['decap']}),
    dedup: Flags.boolean({description: 'drop duplicate packets seen within --dedup-window of packet time', default: false}),
    'dedup-window': Flags.string({description: 'with --dedup: window, e.g. 100ms, 2s', default: '100ms', dependsOn: ['dedup']}),
    workers: Flags.integer({description: `worker threads, one input file each at a time [default: ${Math.min(8, availableParallelism())}]`, min: 1, max: 256}),
    json: Flags.boolean({description: 'print the report as JSON', default: false}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(FilterCommand)
    const inputs = argv as string[]
    if (inputs.length === 0) this.error('no inputs: give capture files, directories or tarballs', {exit: 2})
    let rules: RuleSource[]
    try {
      rules = await loadRuleFile(flags.rules)
    } catch (e) {
      if (e instanceof RuleError) this.error(`${flags.rules}: ${e.message}`, {exit: 2})
      throw e
    }
    let dedupWindowNs: number | null = null
    if (flags.dedup) {
      try {
        dedupWindowNs = parseDuration(flags['dedup-window'])
      } catch (e) {
        this.error(`--dedup-window: ${(e as Error).message}`, {exit: 2})
      }
    }
    const counts = await runFilter({
      inputs,
      workers: flags.workers ?? Math.min(8, availableParallelism()),
      progress: flags.json ? undefined : await terminalProgress('filter'),
      options: {
        outDir: flags['out-dir'],
        rules,
        gzip: flags['out-gzip'],
        decap: flags.decap ? {maxDepth: flags['decap-depth'] ?? Infinity, dropFailed: flags['decap-drop-failed']} : null,
        dedupWindowNs,
        fsync: flags.fsync,
      },
    })
    if (counts.inputs === 0 && counts.problems.length === 0) this.error('no capture files found in the inputs', {exit: 2})
    if (flags.json) this.log(JSON.stringify(counts, null, 2))
    else this.log(report(counts, flags.decap, flags.dedup))
    for (const p of counts.problems) this.logToStderr(`error: ${p}`)
    if (counts.problems.length > 0) process.exitCode = 1
  }
}

function report(c: SplitCounts, decap: boolean, dedup: boolean): string {
  const lines = [`inputs:  ${c.inputs} captures, ${c.packets} packets, ${c.bytes} bytes`]
  if (decap) lines.push(`decap:   ${c.decapsulated} decapsulated, ${c.decapFailed} could not be (${c.decapDropped} dropped)`)
  if (dedup) lines.push(`dedup:   ${c.duplicates} duplicates dropped`)
  const width = Math.max(4, ...Object.keys(c.rules).map((n) => n.length))
  lines.push(`${'rule'.padEnd(width)}  ${'packets'.padStart(12)}  ${'bytes'.padStart(14)}  files`)
  for (const [name, r] of Object.entries(c.rules)) {
    lines.push(`${name.padEnd(width)}  ${String(r.packets).padStart(12)}  ${String(r.bytes).padStart(14)}  ${r.files}`)
  }
  return lines.join('\n')
}
