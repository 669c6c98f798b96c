/*
 * Sending frames out of a network interface. Two senders behind the FrameSink interface: PacketSocketSink
 * (packet-socket-sink.ts, Linux, many frames per system call) for Ethernet interfaces, and this one through
 * libpcap (the `cap` binding, one pcap_sendpacket per frame), the portable path for every other interface.
 * Transient send errors (ENOBUFS: the device queue is full) are retried with a short backoff; any other error
 * is counted per message and the replay goes on.
 */
import {existsSync, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {blockUntil, nowMs} from './clock.js'
import {ReplayError} from './errors.js'
import {NO_LATE_FAILURES, type FrameSink, type LateFailures, type StagedFrame} from './sink.js'
import {LINKTYPE} from '../pcap/linktype.js'
import type {PacketRecord} from '../pcap/reader.js'

/** The part of cap's Cap handle we use (the package ships no types). */
interface CapHandle {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string
  send(buffer: Buffer, size: number): void
  close(): void
}

/** Ethernet header bytes on top of the MTU (which counts the payload only). */
const ETHERNET_HEADER = 14
/** Linux (af_packet) lets an 802.1Q-tagged frame exceed MTU + header by its tag; not an 802.1ad one. */
const VLAN_TAG = 4
const ETHERTYPE_VLAN = 0x8100
/**
 * cap also captures on the handle it sends with; a filter no frame passes (length ≤ 1) keeps the kernel from
 * copying the interface's received traffic (a busy mirror port) up to us.
 */
const RECEIVE_NOTHING = 'less 1'
const RECEIVE_BUFFER = 1 << 20
const RETRYABLE = /No buffer space available|Resource temporarily unavailable/
export const MAX_RETRIES = 8
/** First backoff; doubled each retry, so a frame waits at most ~13 ms in all before it counts as failed. */
const FIRST_BACKOFF_MS = 0.05

/** Waits before retry number `attempt` (0-based) of a send the device refused for now. */
export function backOff(attempt: number): void {
  blockUntil(nowMs() + FIRST_BACKOFF_MS * 2 ** attempt)
}

/** Link types of records that fit the data link cap reports for the interface. */
const LINK_TYPES_BY_CAP_NAME: Record<string, number[]> = {
  ETHERNET: [LINKTYPE.ETHERNET],
  NULL: [LINKTYPE.NULL],
  RAW: [LINKTYPE.RAW, LINKTYPE.RAW_OLD, LINKTYPE.RAW_OLD2],
  LINKTYPE_LINUX_SLL: [LINKTYPE.LINUX_SLL],
  IEEE802_11_RADIO: [LINKTYPE.IEEE802_11_RADIOTAP],
}

const IFF_UP = 0x1

/** What both senders need to know of the interface. */
export interface InterfaceFacts {
  device: string
  /** MTU + Ethernet header: the largest untagged frame. */
  maxFrame: number
  /** ARPHRD_* hardware type from sysfs (1: Ethernet, 772: loopback). */
  hardwareType: number
}

/**
 * Checks that `device` exists in this network namespace and reads its MTU and hardware type. Throws a
 * ReplayError that says what to do when it is missing.
 */
export function interfaceFacts(device: string): InterfaceFacts {
  const sysDir = `/sys/class/net/${device}`
  if (device.includes('/') || !existsSync(sysDir)) {
    throw new ReplayError(`no interface named '${device}' in this network namespace (see \`ip link\`)`, 'SINK')
  }
  // Refused up front as libpcap does: a packet socket would take the frames and fail every send.
  if ((Number(readFileSync(`${sysDir}/flags`, 'utf8')) & IFF_UP) === 0) {
    throw new ReplayError(`interface ${device} is down (\`ip link set ${device} up\`)`, 'SINK')
  }
  const mtu = Number(readFileSync(`${sysDir}/mtu`, 'utf8'))
  const hardwareType = Number(readFileSync(`${sysDir}/type`, 'utf8'))
  return {device, maxFrame: mtu + ETHERNET_HEADER, hardwareType}
}

/** The kernel's own rule, so that no frame it would refuse (EMSGSIZE) is tried and none it takes is skipped. */
export function interfaceFrameLimit(maxFrame: number, rec: PacketRecord): number {
  const tagged = rec.linkType === LINKTYPE.ETHERNET && rec.caplen >= ETHERNET_HEADER
    && rec.buf.readUInt16BE(rec.dataStart + 12) === ETHERTYPE_VLAN
  return tagged ? maxFrame + VLAN_TAG : maxFrame
}

export function openFailure(device: string, e: unknown): ReplayError {
  return new ReplayError(`cannot open interface ${device}: ${(e as Error).message} (sending needs root or CAP_NET_RAW)`, 'SINK')
}

export class InterfaceSink implements FrameSink {
  readonly description: string
  retries = 0
  readonly errors = new Map<string, number>()
  private closed = false

  private constructor(
    private readonly cap: CapHandle,
    private readonly facts: InterfaceFacts,
    private readonly linkTypes: number[],
  ) {
    this.description = `interface ${facts.device}`
  }

  /** Opens the interface for sending through libpcap. */
  static open(facts: InterfaceFacts): InterfaceSink {
    const {Cap} = createRequire(import.meta.url)('cap') as {Cap: new () => CapHandle}
    const cap = new Cap()
    let linkName: string
    try {
      linkName = cap.open(facts.device, RECEIVE_NOTHING, RECEIVE_BUFFER, Buffer.alloc(65536))
    } catch (e) {
      // No close() here: after a failed open cap's close would stop a poll handle it never started.
      throw openFailure(facts.device, e)
    }
    const unknown = /^Unknown linktype (\d+)$/.exec(linkName)
    const linkTypes = LINK_TYPES_BY_CAP_NAME[linkName] ?? (unknown ? [Number(unknown[1])] : [])
    return new InterfaceSink(cap, facts, linkTypes)
  }

  accepts(linkType: number): boolean {
    return this.linkTypes.includes(linkType)
  }

  frameLimit(rec: PacketRecord): number {
    return interfaceFrameLimit(this.facts.maxFrame, rec)
  }

  send(frame: StagedFrame): boolean {
    for (let attempt = 0; ; attempt++) {
      try {
        this.cap.send(frame.buf, frame.caplen)
        return true
      } catch (e) {
        const message = (e as Error).message
        if (attempt < MAX_RETRIES && RETRYABLE.test(message)) {
          this.retries++
          backOff(attempt)
          continue
        }
        this.errors.set(message, (this.errors.get(message) ?? 0) + 1)
        return false
      }
    }
  }

  /** Each frame went out (or failed) in its send call. */
  flush(): LateFailures {
    return NO_LATE_FAILURES
  }

  async close(): Promise<void> {
    this.abort()
  }

  /** An open cap handle keeps Node's event loop (and so the process) alive: always close it. */
  abort(): void {
    if (this.closed) return
    this.closed = true
    this.cap.close()
  }
}
