/*
 * What the field index knows a file's packets by: flows, keyed by addresses, protocol, ports, ethertype, MACs, VLAN
 * and MPLS stack, each with counts, first/last time and the groups of records it is in. The map worker builds them
 * in native/index_native.c (its key writer follows this layout); the index encoder and the query planner read them.
 *
 * A key is what src/decode/ finds in the packet: IPv4 (or else IPv6, or else ARP sender/target) addresses, the
 * IP protocol when there is an IP header, ports when TCP/UDP/SCTP ports were captured, the innermost ethertype, MACs
 * of Ethernet/FDDI, the first KEY_VLANS VLAN ids and KEY_MPLS labels (deeper stacks set a flag); unused words are 0.
 */

/**
 * Layout of a flow key: 20 32-bit words, written and compared as numbers (no byte order games on the hot path).
 * Values deeper than the key holds are marked by the overflow flags.
 */
export const W = {
  HEAD: 0, // kind | proto << 8 | flags << 16 | vlan count << 24 | mpls count << 28
  PORTS: 1, // source port << 16 | destination port
  ETHERTYPE: 2,
  SRC: 3, // 4 words: IPv4 in the first, IPv6, or ARP sender
  DST: 7,
  MAC_HI: 11, // source MAC's high 16 bits << 16 | destination MAC's high 16 bits
  MAC_SRC_LO: 12,
  MAC_DST_LO: 13,
  VLANS: 14, // 2 words, two ids each (the first in the high half)
  MPLS: 16, // 4 words
  COUNT: 20,
} as const
export const KEY_VLANS = 4
export const KEY_MPLS = 4
export const FLAG_PORTS = 1
export const FLAG_MACS = 2
export const FLAG_VLAN_DEEP = 4
export const FLAG_MPLS_DEEP = 8

export const FLOW_KIND = {OTHER: 0, IPV4: 4, IPV6: 6, ARP: 1} as const

/**
 * A file's flows column by column, flow id = index: key words at id·20 in `keys`, its record groups at
 * groups[groupStart[id] … groupStart[id + 1]).
 */
export interface FlowColumns {
  count: number
  keys: Int32Array
  packets: Float64Array
  bytes: Float64Array
  firstSec: Float64Array
  firstNsec: Float64Array
  lastSec: Float64Array
  lastNsec: Float64Array
  groupStart: Uint32Array
  groups: Uint32Array
}

/** One flow's figures, as stored in the index. */
export interface FlowInfo {
  key: Int32Array
  packets: number
  bytes: number
  firstSec: number
  firstNsec: number
  lastSec: number
  lastNsec: number
  /** The record groups (record number >> GROUP_BITS) holding its packets, ascending, each once. */
  groups: ArrayLike<number>
}

/**
 * Records are indexed by group of 8 consecutive records rather than one by one: a flow lists the groups its packets
 * are in, and a file keeps the byte offset where each group starts. Group numbers are small and a busy flow has
 * several packets per group: on the bench dataset the index is 1.4 % of the pcap bytes instead of 2.6-3.7 % with a
 * byte offset per packet. A query reads its candidate groups whole (~0.8 KB each there) and its exact per-packet
 * check drops the other flows' records; 16 per group made the index 1.3 % and broad queries ~10 % slower.
 */
export const GROUP_BITS = 3
export const GROUP_RECORDS = 1 << GROUP_BITS
