import * as Args from '@oclif/core/args'
import {Command} from '@oclif/core/command'
import * as Flags from '@oclif/core/flags'
import {ReplayError, type ReplayErrorCode} from '../replay/errors.js'
import {SENDERS, replayOptions} from '../replay/options.js'
import {ProgressLine} from '../replay/progress.js'
import {formatReport} from '../replay/report.js'
import {replayCaptures} from '../replay/run.js'

const EXIT: Record<ReplayErrorCode, number> = {USAGE: 2, NO_INPUT: 2, SINK: 3}

export default class Replay extends Command {
  static summary = 'Send captured packets onto an interface (or into a file) with their original timing.'

  // Paragraphs are single lines: oclif wraps them to the terminal.
  static description = [
    'Replays captures into a sensor (Suricata, Zeek, Arkime…) so that it sees the traffic as it was recorded. All files are merged into one timeline by timestamp, so files written in parallel by several capture workers come out in true order (packets with equal timestamps in file order). Each packet is due at start + (timestamp − first timestamp) / speed: the schedule is absolute, so a late packet is sent at once and shifts nothing after it (no drift accumulates), and gaps below a millisecond are kept.',
    'Captures come from the metadata JSON written by `pcapkit map --dump-json` (map once, replay many times) or from files and directories given as arguments. Unreadable files are reported and skipped.',
    'The pace is the original timing (at --time-modifier speed), or fitted into --time-scale-duration, or a fixed --pps / --mbps rate, or --topspeed. --time-from/--time-to cut the timeline at packet granularity (RFC 3339 or epoch seconds; from inclusive, to exclusive). --out-bpf sends only the packets that match a filter. Frames larger than --skip-mtu (default: what Linux lets the interface send, MTU + 14, or + 18 for an 802.1Q-tagged frame) are skipped, or cut with --mtu-trunc, and counted. A packet earlier than one already sent from its file is sent at once (or dropped with --skip-ooo) and counted.',
    'There is no default interface: name it with --out-interface. --out-file writes what would have been sent to a pcap (pcapng when link types mix), stamped with replay time, so a replay can be tried without privileges. Packets of a link type the interface does not carry (e.g. Linux cooked captures onto Ethernet) are skipped and counted. (For an interface without an IPv4 address, libpcap prints "no IPv4 address assigned - This may not actually work": harmless for sending.)',
    'A status line on stderr (when it is a terminal) shows packets, rate and how far behind schedule the replay is. The final report gives sent, failed, skipped and out-of-order counts, elapsed vs scheduled time and lateness percentiles; --json prints it as JSON on stdout. Ctrl-C stops the replay, finishes the output and reports.',
    'Exit status: 0 everything was replayed; 1 the replay ran, but some files could not be read or some frames could not be sent; 2 bad usage (unknown or contradictory flags, absurd values, no inputs, no output, nothing readable); 3 the output could not be used (interface missing or not permitted, file not writable).',
  ].join('\n\n')

  static examples = [
    {description: 'Map once, then replay the dataset onto a sensor interface at its original speed', command: '<%= config.bin %> map /data/pcaps --dump-json ds.json && <%= config.bin %> replay --dump-json ds.json --out-interface ens4f1'},
    {description: 'Four times faster, one hour of the dataset only', command: '<%= config.bin %> replay --dump-json ds.json -i ens4f1 --time-modifier 4 --time-from 2024-05-01T10:00:00Z --time-to 2024-05-01T11:00:00Z'},
    {description: 'Fit the whole replay into ten minutes, forever, with a pause between loops', command: '<%= config.bin %> replay ds/ -i ens4f1 --time-scale-enabled --time-scale-duration 10m --loop-infinite --loop-delay 30s'},
    {description: 'Only DNS, as fast as possible', command: "<%= config.bin %> replay capture.pcap -i ens4f1 --topspeed --out-bpf 'udp port 53'"},
    {description: 'Try a replay without privileges: write what would be sent', command: '<%= config.bin %> replay a.pcap b.pcap --out-file replayed.pcap --json'},
  ]

  static strict = false

  static args = {
    paths: Args.string({description: 'capture files or directories (recursive), instead of --dump-json'}),
  }

  static flags = {
    'dump-json': Flags.string({description: 'metadata JSON written by `pcapkit map --dump-json` naming the captures'}),
    'file-suffix': Flags.string({description: 'with paths: file name endings to take from directories, comma-separated or repeated; each also matches with .gz [default: .pcap,.pcapng,.cap]', multiple: true}),
    'file-regexp': Flags.string({description: 'with paths: keep only files (or tar members, ARCHIVE#member) whose full path matches'}),
    'out-interface': Flags.string({char: 'i', description: 'send on this network interface (there is no default)'}),
    'out-file': Flags.string({char: 'w', description: 'write what would be sent to this capture file instead (atomically)'}),
    sender: Flags.string({
      description: 'how frames reach the interface: packet-socket (Linux, Ethernet; batches frames at --topspeed), libpcap (any interface), or auto (packet-socket where it can)',
      options: [...SENDERS], default: 'auto',
    }),
    'keep-timestamps': Flags.boolean({description: 'with --out-file: keep the original timestamps instead of replay time'}),
    'time-modifier': Flags.string({description: 'speed factor, any number > 0: 2 = twice as fast, 0.25 = four times slower [default: 1]'}),
    'time-scale-enabled': Flags.boolean({description: 'fit the whole replay into --time-scale-duration'}),
    'time-scale-duration': Flags.string({description: 'with --time-scale-enabled: how long the replay lasts (e.g. 90s, 10m, 1h30m)'}),
    topspeed: Flags.boolean({description: 'send as fast as possible, ignoring timestamps'}),
    pps: Flags.string({description: 'send at this many packets per second, ignoring timestamps'}),
    mbps: Flags.string({description: 'send at this many megabits per second, ignoring timestamps'}),
    'time-from': Flags.string({description: 'first packet time to replay (inclusive): RFC 3339, a date, or epoch seconds'}),
    'time-to': Flags.string({description: 'replay packets before this time (exclusive): RFC 3339, a date, or epoch seconds'}),
    'loop-count': Flags.string({description: 'passes over the captures, 0 = until interrupted [default: 1]'}),
    'loop-infinite': Flags.boolean({description: 'loop until interrupted (same as --loop-count 0)'}),
    'loop-delay': Flags.string({description: 'pause between loops (e.g. 500ms, 30s) [default: 0s]'}),
    'out-bpf': Flags.string({description: "send only the packets that match this filter (e.g. 'tcp port 80')"}),
    'skip-mtu': Flags.string({description: 'largest frame to send, in bytes; larger ones are skipped and counted [default: interface MTU + 14 (+ 4 for 802.1Q); none for --out-file]'}),
    'mtu-trunc': Flags.boolean({description: 'cut frames larger than the limit to it instead of skipping them'}),
    'skip-ooo': Flags.boolean({description: 'drop packets earlier than one already sent from the same file, instead of sending them at once'}),
    json: Flags.boolean({description: 'print the final report as JSON on stdout'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Replay)
    const stop = new AbortController()
    const interrupt = (): void => stop.abort()
    process.once('SIGINT', interrupt) // once: a second Ctrl-C ends the process at once
    try {
      const options = replayOptions(argv as string[], flags)
      const progress = ProgressLine.forStderr()
      const report = await replayCaptures(options, {signal: stop.signal, progress})
      for (const problem of report.files.skipped) this.warn(problem)
      this.log(flags.json ? JSON.stringify(report, null, 2) : formatReport(report))
      if (report.files.skipped.length > 0 || report.packets.failed > 0) process.exitCode = 1
    } catch (e) {
      if (e instanceof ReplayError) this.error(e.message, {exit: EXIT[e.code]})
      throw e
    } finally {
      process.off('SIGINT', interrupt)
    }
  }
}
