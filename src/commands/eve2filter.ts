import {Command} from '@oclif/core/command'
import * as Flags from '@oclif/core/flags'
import {writeFileSync} from 'node:fs'
import {stringify} from 'yaml'
import {readEveFile} from '../split/eve.js'
import {eveRules} from '../split/eve-rules.js'
import {prose} from '../help-text.js'

export default class Eve2FilterCommand extends Command {
  static summary = 'Turn Suricata EVE events into a rules file that `pcapkit filter` loads as it is.'

  static description = prose(`One rule per flow (events of one flow_id give one rule), named flow-<flow_id>, matching the flow's
5-tuple in both directions. By default rules are expressions ({expr: ...}); with --conditions they are gopherCap
condition lists (subnet A/32 or /128, ports as N/tcp or N/udp), which gopherCap's filter can load too (its own
eve2filter writes bare addresses and ports that it then refuses).

Exit status: 0 done; 2 bad usage or an unreadable events file.`)

  static examples = [
    {description: 'Rules for every alert, then split a dataset by them', command: '<%= config.bin %> eve2filter --event eve.json -o rules.yaml && <%= config.bin %> filter /data --rules rules.yaml -o out'},
  ]

  static flags = {
    event: Flags.string({description: 'EVE JSON lines file (plain or gzip)', required: true}),
    output: Flags.string({char: 'o', description: 'rules file to write [default: stdout]'}),
    'event-type': Flags.string({description: 'event types to take, comma-separated', default: 'alert'}),
    conditions: Flags.boolean({description: 'write gopherCap condition lists instead of expressions', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Eve2FilterCommand)
    let events
    try {
      events = (await readEveFile(flags.event, flags['event-type'].split(',').map((s) => s.trim()).filter(Boolean))).events
    } catch (e) {
      this.error((e as Error).message, {exit: 2})
    }
    const text = stringify(eveRules(events, flags.conditions))
    if (flags.output) writeFileSync(flags.output, text)
    else process.stdout.write(text)
  }
}
