/*
 * Turns the command's flag values into checked replay options. Every value a user can get wrong (a negative or
 * zero speed, NaN, a window that ends before it starts, flags that contradict each other) is refused here with a
 * message that says what is expected, before anything is opened.
 */
import {ReplayError} from './errors.js'
import type {PaceMode} from './pacer.js'
import {OPEN_WINDOW, type TimeWindow} from './window.js'
import {parseDuration, parseTime} from '../dataset/timefmt.js'
import {selectionFromFlags, type DiscoveryOptions} from '../dataset/discover.js'

/** The flags as the user typed them (numbers stay text so that every mistake gets the same kind of message). */
export interface ReplayFlags {
  'dump-json'?: string
  'file-suffix'?: string[]
  'file-regexp'?: string
  'out-interface'?: string
  'out-file'?: string
  sender?: string
  'keep-timestamps'?: boolean
  'time-modifier'?: string
  'time-scale-enabled'?: boolean
  'time-scale-duration'?: string
  topspeed?: boolean
  pps?: string
  mbps?: string
  'time-from'?: string
  'time-to'?: string
  'loop-count'?: string
  'loop-infinite'?: boolean
  'loop-delay'?: string
  'out-bpf'?: string
  'skip-mtu'?: string
  'mtu-trunc'?: boolean
  'skip-ooo'?: boolean
}

export const SENDERS = ['auto', 'packet-socket', 'libpcap'] as const
export type Sender = typeof SENDERS[number]

/** How to pace, before the timeline is known: fitting to a duration needs the captures' span. */
export type PaceRequest = PaceMode | {kind: 'fit'; durationNs: number}

export interface ReplayOptions {
  inputs: string[]
  /** Which files to take from directories (and tarballs) given as inputs. */
  selection: DiscoveryOptions
  metadata?: string
  outInterface?: string
  outFile?: string
  /** How frames reach the interface: a batching PF_PACKET socket, libpcap, or the first that serves it. */
  sender: Sender
  keepTimestamps: boolean
  pace: PaceRequest
  window: TimeWindow
  /** Passes over the captures; 0 = until interrupted. */
  loops: number
  loopDelayMs: number
  skipOutOfOrder: boolean
  /** Frame size limit in bytes given by --skip-mtu (else the interface's, or none for a file). */
  maxFrame?: number
  truncateOversize: boolean
  outBpf?: string
}

const usage = (message: string): ReplayError => new ReplayError(message, 'USAGE')
const DECIMAL = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i

function positiveNumber(flag: string, text: string, hint: string): number {
  const value = DECIMAL.test(text.trim()) ? Number(text) : NaN
  if (!(value > 0) || !Number.isFinite(value)) throw usage(`--${flag} must be a number greater than 0 (${hint}), got '${text}'`)
  return value
}

function wholeNumber(flag: string, text: string, min: number): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text) : NaN
  if (!Number.isSafeInteger(value) || value < min) throw usage(`--${flag} must be a whole number ≥ ${min}, got '${text}'`)
  return value
}

/** Reads a flag with one of the dataset's parsers (durations, times), naming the flag in its message. */
function parsed<T>(flag: string, text: string, parse: (text: string) => T): T {
  try {
    return parse(text)
  } catch (e) {
    throw usage(`--${flag}: ${(e as Error).message}`)
  }
}

export function replayOptions(inputs: string[], f: ReplayFlags): ReplayOptions {
  if (inputs.length > 0 && f['dump-json']) {
    throw usage('give the captures either as paths or as the --dump-json metadata written by `map`, not both')
  }
  if (inputs.length === 0 && !f['dump-json']) {
    throw usage('nothing to replay: give capture files or directories, or --dump-json FILE written by `pcapkit map`')
  }
  if (f['out-interface'] && f['out-file']) throw usage('choose one output: --out-interface or --out-file')
  if (!f['out-interface'] && !f['out-file']) {
    throw usage('no output: name the interface to send on with --out-interface IF (there is no default, on purpose), '
      + 'or write what would be sent to a capture with --out-file FILE')
  }
  if (f['keep-timestamps'] && !f['out-file']) throw usage('--keep-timestamps applies to --out-file only')
  if (f['out-bpf'] !== undefined && f['out-bpf'].trim() === '') throw usage('--out-bpf needs a filter expression')

  const maxFrame = f['skip-mtu'] === undefined ? undefined : wholeNumber('skip-mtu', f['skip-mtu'], 1)
  if (f.sender !== undefined && !(SENDERS as readonly string[]).includes(f.sender)) {
    throw usage(`--sender must be one of ${SENDERS.join(', ')}`)
  }
  if (f.sender !== undefined && f.sender !== 'auto' && !f['out-interface']) throw usage('--sender applies to --out-interface only')
  if (f['mtu-trunc'] && maxFrame === undefined && !f['out-interface']) {
    throw usage('--mtu-trunc needs a size limit: --skip-mtu N, or an --out-interface (its MTU)')
  }
  if (f['loop-infinite'] && f['loop-count'] !== undefined && f['loop-count'].trim() !== '0') {
    throw usage('--loop-infinite and --loop-count N contradict each other: keep one')
  }

  const window = {...OPEN_WINDOW}
  if (f['time-from'] !== undefined) [window.fromSec, window.fromNsec] = parsed('time-from', f['time-from'], parseTime)
  if (f['time-to'] !== undefined) [window.toSec, window.toNsec] = parsed('time-to', f['time-to'], parseTime)
  if (window.fromSec > window.toSec || (window.fromSec === window.toSec && window.fromNsec >= window.toNsec)) {
    throw usage(`--time-from (${f['time-from']}) must be earlier than --time-to (${f['time-to']})`)
  }

  if (f['dump-json'] && (f['file-suffix'] || f['file-regexp'])) {
    throw usage('--file-suffix and --file-regexp select files from paths; the --dump-json metadata names its files itself')
  }
  let selection: DiscoveryOptions
  try {
    selection = selectionFromFlags(f['file-suffix'], f['file-regexp'])
  } catch (e) {
    throw usage((e as Error).message)
  }

  return {
    inputs,
    selection,
    metadata: f['dump-json'],
    outInterface: f['out-interface'],
    outFile: f['out-file'],
    sender: (f.sender ?? 'auto') as Sender,
    keepTimestamps: f['keep-timestamps'] ?? false,
    pace: paceRequest(f),
    window,
    loops: f['loop-infinite'] ? 0 : f['loop-count'] === undefined ? 1 : wholeNumber('loop-count', f['loop-count'], 0),
    loopDelayMs: f['loop-delay'] === undefined ? 0 : parsed('loop-delay', f['loop-delay'], parseDuration) / 1e6,
    skipOutOfOrder: f['skip-ooo'] ?? false,
    maxFrame,
    truncateOversize: f['mtu-trunc'] ?? false,
    outBpf: f['out-bpf'],
  }
}

function paceRequest(f: ReplayFlags): PaceRequest {
  const chosen = [
    f['time-modifier'] !== undefined && '--time-modifier',
    f['time-scale-enabled'] && '--time-scale-enabled',
    f.topspeed && '--topspeed',
    f.pps !== undefined && '--pps',
    f.mbps !== undefined && '--mbps',
  ].filter(Boolean)
  if (chosen.length > 1) throw usage(`${chosen.join(' and ')} each set the pace: keep one`)
  if (f['time-scale-duration'] !== undefined && !f['time-scale-enabled']) {
    throw usage('--time-scale-duration takes effect with --time-scale-enabled: add it, or drop the duration')
  }
  if (f['time-scale-enabled']) {
    if (f['time-scale-duration'] === undefined) throw usage('--time-scale-enabled needs --time-scale-duration D (e.g. 10m)')
    const ns = parsed('time-scale-duration', f['time-scale-duration'], parseDuration)
    if (ns <= 0) throw usage('--time-scale-duration must be longer than 0')
    return {kind: 'fit', durationNs: ns}
  }
  if (f.topspeed) return {kind: 'topspeed'}
  if (f.pps !== undefined) return {kind: 'pps', pps: positiveNumber('pps', f.pps, 'packets per second')}
  if (f.mbps !== undefined) return {kind: 'mbps', mbps: positiveNumber('mbps', f.mbps, 'megabits per second')}
  if (f['time-modifier'] === undefined) return {kind: 'timeline', speed: 1}
  return {kind: 'timeline', speed: positiveNumber('time-modifier', f['time-modifier'], 'the speed factor: 2 = twice as fast, 0.25 = four times slower')}
}
