/*
 * Sends frames on a Linux Ethernet interface through a PF_PACKET socket, several frames per sendmmsg call
 * (native/replay_native.c). At top speed frames are queued in an arena and sent in batches, which is what lets a
 * replay outrun tcpreplay's one send() per frame; paced replays use batches of one, so each frame leaves at its
 * due time. Frames the kernel refuses for now (ENOBUFS, EAGAIN) are retried with backoff; other failures are
 * counted per error and the replay goes on.
 */
import {constants} from 'node:os'
import {getSystemErrorName} from 'node:util'
import {
  MAX_RETRIES, backOff, interfaceFrameLimit, openFailure, type InterfaceFacts,
} from './interface-sink.js'
import {replayNative, type ReplayNative} from './native.js'
import type {FrameSink, LateFailures, StagedFrame} from './sink.js'
import {LINKTYPE} from '../pcap/linktype.js'
import type {PacketRecord} from '../pcap/reader.js'

/** Hardware types whose frames are Ethernet frames (sysfs `type`, ARPHRD_*). */
const ARPHRD_ETHER = 1
const ARPHRD_LOOPBACK = 772
const {ENOBUFS, EAGAIN} = constants.errno
/** Frames per sendmmsg at top speed: past ~32 the per-call saving is gone and frames only wait longer. */
export const TOPSPEED_BATCH = 32
const ARENA_BYTES = 1 << 20

export class PacketSocketSink implements FrameSink {
  readonly description: string
  retries = 0
  readonly errors = new Map<string, number>()
  private arena = Buffer.allocUnsafe(ARENA_BYTES)
  private readonly offsets: Uint32Array
  private readonly lengths: Uint32Array
  private queued = 0
  private used = 0
  private lateFrames = 0
  private lateBytes = 0
  private fd: number

  private constructor(private readonly native: ReplayNative, fd: number, private readonly facts: InterfaceFacts, private readonly batch: number) {
    this.fd = fd
    this.description = `interface ${facts.device}`
    this.offsets = new Uint32Array(batch)
    this.lengths = new Uint32Array(batch)
  }

  /** Whether this sender can serve the interface: an Ethernet (or loopback) device, with the addon built. */
  static canSend(facts: InterfaceFacts): boolean {
    return (facts.hardwareType === ARPHRD_ETHER || facts.hardwareType === ARPHRD_LOOPBACK) && replayNative() !== null
  }

  /** Opens the socket; `batch` frames go per system call (1: every frame at once). */
  static open(facts: InterfaceFacts, batch: number): PacketSocketSink {
    const native = replayNative()
    if (!native) throw openFailure(facts.device, new Error('the packet socket addon is not built'))
    let fd: number
    try {
      fd = native.open(facts.device)
    } catch (e) {
      throw openFailure(facts.device, e)
    }
    return new PacketSocketSink(native, fd, facts, batch)
  }

  accepts(linkType: number): boolean {
    return linkType === LINKTYPE.ETHERNET
  }

  frameLimit(rec: PacketRecord): number {
    return interfaceFrameLimit(this.facts.maxFrame, rec)
  }

  /** Queues the frame; sends the queue when it is full. With batches of one, says whether this frame went out. */
  send(frame: StagedFrame): boolean {
    const length = frame.caplen
    if (this.queued > 0 && this.used + length > this.arena.length) this.transmit()
    if (length > this.arena.length) this.arena = Buffer.allocUnsafe(length)
    frame.buf.copy(this.arena, this.used, 0, length)
    this.offsets[this.queued] = this.used
    this.lengths[this.queued] = length
    this.queued++
    this.used += length
    if (this.queued < this.batch) return true
    const failedBefore = this.lateFrames
    this.transmit()
    if (this.batch > 1 || this.lateFrames === failedBefore) return true
    // A batch of one: the failure is this frame's, reported now rather than late.
    this.lateFrames = failedBefore
    this.lateBytes -= length
    return false
  }

  flush(): LateFailures {
    if (this.queued > 0) this.transmit()
    const late = {frames: this.lateFrames, bytes: this.lateBytes}
    this.lateFrames = 0
    this.lateBytes = 0
    return late
  }

  /** Sends every queued frame: retries what the kernel refuses for now, skips (and counts) what fails. */
  private transmit(): void {
    let from = 0
    let attempt = 0
    while (from < this.queued) {
      const result = this.native.send(this.fd, this.arena, this.offsets, this.lengths, from, this.queued)
      if (result > 0) {
        from += result
        attempt = 0
        continue
      }
      const errno = -result
      if ((errno === ENOBUFS || errno === EAGAIN) && attempt < MAX_RETRIES) {
        this.retries++
        backOff(attempt++)
        continue
      }
      const message = `send: ${getSystemErrorName(result)}`
      this.errors.set(message, (this.errors.get(message) ?? 0) + 1)
      this.lateFrames++
      this.lateBytes += this.lengths[from]
      from++
      attempt = 0
    }
    this.queued = 0
    this.used = 0
  }

  async close(): Promise<void> {
    if (this.queued > 0 && this.fd >= 0) this.transmit()
    this.abort()
  }

  /** Closes the socket; frames still queued are dropped (the replay was given up). */
  abort(): void {
    if (this.fd < 0) return
    this.native.close(this.fd)
    this.fd = -1
  }
}
