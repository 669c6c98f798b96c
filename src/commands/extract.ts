import {Command} from '@oclif/core/command'
import * as Flags from '@oclif/core/flags'
import {parseDuration} from '../dataset/timefmt.js'
import {defaultIndexDir} from '../index/paths.js'
import {extractEvents} from '../split/extract.js'
import {prose} from '../help-text.js'

export default class ExtractCommand extends Command {
  static summary = 'Write one pcap per Suricata EVE event holding its flow\'s packets (both directions).'

  static description = prose(`Reads EVE JSON lines (plain or gzip: alerts, flows, anomalies; lines without a 5-tuple are skipped)
and, for each event, writes the packets of its flow: the event's addresses, ports (TCP/UDP/SCTP) and protocol in
both directions, from the flow start (flow.start, or the event time minus --before) to the flow end (flow.end, or the
event time plus --after, the flow timeout). Uses the index when the dataset is mapped (--dump-json/--db, see
\`pcapkit map\`), and reads the files otherwise (--input, one pass per event).

Output names come from --file-format with the event's fields ({signature_id} also finds alert.signature_id;
{flow_id} is exact) and are sanitized into one file name inside --out-dir. Events that give a name already
written (several alerts of one flow) are skipped. Outputs are pcap, or pcapng when the dataset mixes link types.

Exit status: 0 done; 1 a capture could not be read or an indexed file changed; 2 bad usage.`)

  static examples = [
    {description: 'Alerts of a mapped dataset', command: '<%= config.bin %> extract --event eve.json --dump-json dataset.json --out-dir alerts'},
    {description: 'Without an index, named by flow', command: '<%= config.bin %> extract --event eve.json.gz --input /data/pcaps --out-dir out --file-format "{flow_id}.pcap" --event-type alert,anomaly'},
  ]

  static flags = {
    event: Flags.string({description: 'EVE JSON lines file (plain or gzip)', required: true}),
    'out-dir': Flags.string({char: 'o', description: 'directory for the outputs', required: true}),
    'file-format': Flags.string({description: 'output name template with {event fields}', default: '{signature_id}-{flow_id}.pcap'}),
    'event-type': Flags.string({description: 'event types to take, comma-separated [default: every event with a 5-tuple]'}),
    before: Flags.string({description: 'without flow.start: take packets from this long before the event', default: '1m'}),
    after: Flags.string({description: 'without flow.end: take packets until this long after the event (flow timeout)', default: '1m'}),
    db: Flags.string({description: 'index directory written by map'}),
    'dump-json': Flags.string({description: 'metadata JSON written by map (its index is FILE.json → FILE.index)'}),
    input: Flags.string({description: 'no index: capture files or directories to scan', multiple: true}),
    json: Flags.boolean({description: 'print the report as JSON', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ExtractCommand)
    const db = flags.db ?? (flags['dump-json'] ? defaultIndexDir(flags['dump-json']) : undefined)
    if (!db && !flags.input) this.error('give the dataset: --db DIR or --dump-json FILE (mapped), or --input PATH (scan)', {exit: 2})
    let beforeNs = 0
    let afterNs = 0
    try {
      beforeNs = parseDuration(flags.before)
      afterNs = parseDuration(flags.after)
    } catch (e) {
      this.error((e as Error).message, {exit: 2})
    }
    let report
    try {
      report = await extractEvents({
        eventsPath: flags.event,
        eventTypes: flags['event-type']?.split(',').map((s) => s.trim()).filter(Boolean) ?? [],
        outDir: flags['out-dir'],
        fileFormat: flags['file-format'],
        beforeNs,
        afterNs,
        db,
        scanInputs: db ? undefined : flags.input,
      }, flags.json ? undefined : (e) => this.log(`${e.file}: ${e.packets} packets`))
    } catch (e) {
      const message = (e as Error).message
      this.error(message, {exit: /ENOENT|no index at/.test(message) ? 2 : 1})
    }
    if (flags.json) this.log(JSON.stringify(report, null, 2))
    else this.log(`${report.events} events, ${report.extracted.length} files, ${report.sameName} events sharing a name, ${report.skippedLines} lines skipped`)
  }
}
