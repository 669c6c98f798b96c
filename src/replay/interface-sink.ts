/*
 * Sends frames out of a network interface through libpcap (the `cap` binding): one pcap_sendpacket per frame.
 * Transient send errors (ENOBUFS: the device queue is full) are retried with a short backoff; any other error
 * is counted per message and the replay goes on.
 */
import {existsSync, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {blockUntil, nowMs} from './clock.js'
import {ReplayError} from './errors.js'
import type {FrameSink, StagedFrame} from './sink.js'
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
const MAX_RETRIES = 8
/** First backoff; doubled each retry, so a frame waits at most ~13 ms in all before it counts as failed. */
const FIRST_BACKOFF_MS = 0.05

/** Link types of records that fit the data link cap reports for the interface. */
const LINK_TYPES_BY_CAP_NAME: Record<string, number[]> = {
  ETHERNET: [LINKTYPE.ETHERNET],
  NULL: [LINKTYPE.NULL],
  RAW: [LINKTYPE.RAW, LINKTYPE.RAW_OLD, LINKTYPE.RAW_OLD2],
  LINKTYPE_LINUX_SLL: [LINKTYPE.LINUX_SLL],
  IEEE802_11_RADIO: [LINKTYPE.IEEE802_11_RADIOTAP],
}

export class InterfaceSink implements FrameSink {
  readonly description: string
  retries = 0
  readonly errors = new Map<string, number>()
  private closed = false

  private constructor(
    private readonly cap: CapHandle,
    readonly device: string,
    /** MTU + Ethernet header: the largest untagged frame. */
    private readonly maxFrame: number,
    private readonly linkTypes: number[],
  ) {
    this.description = `interface ${device}`
  }

  /**
   * Opens `device` for sending; its frame limit is the MTU plus the Ethernet header (and an 802.1Q tag). Throws a ReplayError that
   * says what to do when the interface is missing or cannot be opened.
   */
  static open(device: string): InterfaceSink {
    const sysDir = `/sys/class/net/${device}`
    if (device.includes('/') || !existsSync(sysDir)) {
      throw new ReplayError(`no interface named '${device}' in this network namespace (see \`ip link\`)`, 'SINK')
    }
    const mtu = Number(readFileSync(`${sysDir}/mtu`, 'utf8'))
    const {Cap} = createRequire(import.meta.url)('cap') as {Cap: new () => CapHandle}
    const cap = new Cap()
    let linkName: string
    try {
      linkName = cap.open(device, RECEIVE_NOTHING, RECEIVE_BUFFER, Buffer.alloc(65536))
    } catch (e) {
      // No close() here: after a failed open cap's close would stop a poll handle it never started.
      throw new ReplayError(
        `cannot open interface ${device}: ${(e as Error).message} (sending needs root or CAP_NET_RAW)`, 'SINK')
    }
    const unknown = /^Unknown linktype (\d+)$/.exec(linkName)
    const linkTypes = LINK_TYPES_BY_CAP_NAME[linkName] ?? (unknown ? [Number(unknown[1])] : [])
    return new InterfaceSink(cap, device, mtu + ETHERNET_HEADER, linkTypes)
  }

  accepts(linkType: number): boolean {
    return this.linkTypes.includes(linkType)
  }

  /** The kernel's own rule, so that no frame it would refuse (EMSGSIZE) is tried and none it takes is skipped. */
  frameLimit(rec: PacketRecord): number {
    const tagged = rec.linkType === LINKTYPE.ETHERNET && rec.caplen >= ETHERNET_HEADER
      && rec.buf.readUInt16BE(rec.dataStart + 12) === ETHERTYPE_VLAN
    return tagged ? this.maxFrame + VLAN_TAG : this.maxFrame
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
          blockUntil(nowMs() + FIRST_BACKOFF_MS * 2 ** attempt)
          continue
        }
        this.errors.set(message, (this.errors.get(message) ?? 0) + 1)
        return false
      }
    }
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
