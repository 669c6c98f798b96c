import * as Args from '@oclif/core/args'
import {Command} from '@oclif/core/command'
import * as Flags from '@oclif/core/flags'
import {parseFilter} from '../filter/parser.js'
import {compileFilter} from '../filter/compile.js'
import {FilterSyntaxError} from '../filter/errors.js'
import {parseDuration, parseTime, type Timestamp} from '../dataset/timefmt.js'
import {IndexStore} from '../index/store.js'
import {defaultIndexDir} from '../index/paths.js'
import {captureChoiceFor, openOutput, type OutputFormat} from '../query/output.js'
import {planQuery, runQuery} from '../query/run-query.js'
import {TimeWindow} from '../query/time-window.js'
import {prose} from '../help-text.js'

export default class Query extends Command {
  static summary = 'Find packets by a tcpdump-style filter in the index and write them out as pcap, text or JSON.'

  static description = prose(`Answers the filter from the field index built by \`pcapkit map\` (only the records of matching flows
are read) and checks every candidate packet exactly, so the result equals \`tcpdump -r FILE 'FILTER'\` merged in
time order across files — except where noted below.

Filter language (pcap-filter subset): host, src/dst host, net CIDR, port, portrange, ip, ip6, tcp, udp, sctp, icmp,
icmp6, arp, vlan [ID], mpls [LABEL], ether host|src|dst MAC, ether proto N, ip proto N, proto N, less N, greater N,
and/&&, or/||, not/!, parentheses, and Stenographer's before/after TIME (RFC 3339 or "45m ago").

Deliberate differences from tcpdump: every primitive looks inside any depth of VLAN tags and MPLS labels (tcpdump
needs "vlan and host X"); "vlan 10" matches any tag in the stack; ports and protocols are found behind IPv6
extension headers; a primitive whose header was cut by the snap length is false (its negation true). Wi-Fi
(802.11, radiotap, PPI) and NFLOG captures are decoded too: on 802.11, ether src/dst are the frames' SA/DA.

Output: pcap when it goes to a file or a pipe (so \`| tshark -r -\` works), text on a terminal; pcapng when the
matching files mix link types. Packets come out in global time order across files.

Exit status: 0 done (also with no match); 1 an indexed file changed or vanished (use --remap), or a file could not be
read; 2 bad usage (filter syntax, flags, missing index).`)

  static examples = [
    {description: 'Packets of one host as pcap, into Wireshark\'s command-line sibling', command: '<%= config.bin %> query "host 10.0.0.1" --db dataset.index | tshark -r -'},
    {description: 'One conversation in a time window, to a file', command: '<%= config.bin %> query "host 10.0.0.1 and host 10.0.0.2 and tcp port 443" --dump-json dataset.json --start 2015-10-20T15:00:00Z --duration 1h -w conv.pcap'},
    {description: 'Count DNS packets of the last 45 minutes', command: '<%= config.bin %> query "udp port 53 and after 45m ago" --db dataset.index --count'},
    {description: 'JSON lines for scripts', command: '<%= config.bin %> query "vlan 100 and net 192.168.0.0/16" --db dataset.index --format json --limit 100'},
    {description: 'Same filter without the index, straight over files', command: '<%= config.bin %> query "icmp" --scan --input /data/pcaps -w icmp.pcap'},
  ]

  static args = {
    expression: Args.string({description: 'filter expression (omit for every packet)', required: false}),
  }

  static flags = {
    db: Flags.string({description: 'index directory written by map'}),
    'dump-json': Flags.string({description: 'metadata JSON written by map: its index is FILE.json → FILE.index'}),
    start: Flags.string({description: 'only packets at or after this time (RFC 3339, date, or epoch seconds)'}),
    end: Flags.string({description: 'only packets before this time', exclusive: ['duration']}),
    duration: Flags.string({description: 'with --start: window length, e.g. 24h, 45m, 1h30m', dependsOn: ['start']}),
    write: Flags.string({char: 'w', description: 'write packets to FILE (written atomically), or - for stdout'}),
    format: Flags.string({description: 'output format [default: pcap, or text on a terminal]', options: ['pcap', 'pcapng', 'text', 'json']}),
    limit: Flags.integer({description: 'stop after N packets', min: 1}),
    count: Flags.boolean({description: 'print only the number of matching packets', default: false}),
    scan: Flags.boolean({description: 'read the files instead of using the index (checking, or unmapped files)', default: false}),
    input: Flags.string({description: 'with --scan: capture files or directories to read [default: the indexed files]', multiple: true}),
    remap: Flags.boolean({description: 'map again indexed files that changed since they were mapped, instead of failing', default: false}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Query)
    const expression = args.expression ?? ''
    let ast
    try {
      ast = parseFilter(expression)
    } catch (e) {
      if (e instanceof FilterSyntaxError) this.error(e.message, {exit: 2})
      throw e
    }
    const window = this.windowFrom(flags.start, flags.end, flags.duration)
    const db = flags.db ?? (flags['dump-json'] ? defaultIndexDir(flags['dump-json']) : undefined)
    if (!db && !(flags.scan && flags.input)) {
      this.error('no index: give --db DIR or --dump-json FILE (as used with map), or --scan --input PATH', {exit: 2})
    }
    let plan
    try {
      plan = await planQuery(ast, window, {db, scanInputs: flags.scan ? flags.input ?? await this.indexedPaths(db!) : undefined, remap: flags.remap})
    } catch (e) {
      this.error((e as Error).message, {exit: /no index at|in use/.test((e as Error).message) ? 2 : 1})
    }
    const matches = compileFilter(ast)
    if (flags.count) {
      let n = 0
      await runQuery(plan.sources, matches, window, () => ++n !== flags.limit)
      this.log(String(n))
      return
    }
    const format = (flags.format ?? (process.stdout.isTTY && !flags.write ? 'text' : 'pcap')) as OutputFormat
    if ((format === 'pcap' || format === 'pcapng') && !flags.write && process.stdout.isTTY) {
      this.error('refusing to write a binary capture to a terminal: use -w FILE, a pipe, or --format text', {exit: 2})
    }
    const choice = captureChoiceFor(plan.sources)
    if (flags.format === 'pcap' && choice.mixed) {
      this.error('the matching files mix link types: a classic pcap holds one; use --format pcapng', {exit: 2})
    }
    const capture = format === 'pcapng' ? {...choice, format: 'pcapng' as const} : choice
    const out = openOutput(format, flags.write, capture)
    let n = 0
    try {
      await runQuery(plan.sources, matches, window, (m) => {
        const w = out.write(m.rec, plan.sources[m.order].path)
        n++
        if (w) return w.then(() => n !== flags.limit)
        return n !== flags.limit
      })
      await out.close()
    } catch (e) {
      out.abort()
      this.error((e as Error).message, {exit: 1})
    }
    if (flags.write && flags.write !== '-') this.logToStderr(`${n} packets written to ${flags.write}`)
  }

  private windowFrom(start?: string, end?: string, duration?: string): TimeWindow {
    try {
      const from: Timestamp | null = start ? parseTime(start) : null
      let to: Timestamp | null = end ? parseTime(end) : null
      if (from && duration) {
        const ns = from[1] + parseDuration(duration)
        to = [from[0] + Math.floor(ns / 1e9), ns % 1e9]
      }
      return new TimeWindow(from, to)
    } catch (e) {
      this.error((e as Error).message, {exit: 2})
    }
  }

  private async indexedPaths(db: string): Promise<string[]> {
    const store = await IndexStore.open(db, false)
    try {
      return [...(await store.files()).keys()]
    } finally {
      await store.close()
    }
  }
}
