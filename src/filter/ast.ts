/**
 * The filter language: a subset of pcap-filter(7) with tcpdump's meaning, plus Stenographer's `before`/`after`.
 * One AST drives both index planning and the exact per-packet check (compile.ts), so the two never disagree.
 *
 * Primitives: `[src|dst|src or dst|src and dst] host ADDR`, `net CIDR` / `net ADDR mask MASK` / `net 10.1`,
 * `port N|NAME`, `portrange A-B` (each with `src`/`dst`; ports also with `tcp`/`udp`/`sctp`; hosts and nets also
 * with `ip`/`ip6`/`arp`/`rarp`), `ip`, `ip6`, `arp`, `rarp`, `tcp`, `udp`, `sctp`, `icmp`, `icmp6`, `igmp`,
 * `ip proto N`, `ip6 proto N`, `proto N` (N a number or a name: `tcp`, `\udp`, `gre`…), `ether host|src|dst MAC`,
 * `ether proto N`, `vlan [ID]`, `mpls [LABEL]`, `less N`, `greater N`, `before TIME`, `after TIME`, combined with
 * `and`/`&&`, `or`/`||`, `not`/`!` and parentheses. As in tcpdump: `and` and `or` have the SAME precedence and group
 * from the left (`a or b and c` is `(a or b) and c`) and `not` binds tightest; a bare id after `and`/`or`/`not`
 * reuses the previous primitive's qualifiers (`host a or b`, `tcp port 80 or 443`, `host a and (b or c)`); numbers
 * are decimal, 0x-hex or 0-octal (`port 010` is port 8); `less N` / `greater N` compare the packet's original
 * (wire) length, `len <= N` / `len >= N`.
 *
 * Deliberate differences from tcpdump 4.99 / libpcap 1.10:
 * - Encapsulation. Every primitive looks through any depth of 802.1Q/802.1ad/QinQ tags (0x8100, 0x88a8, 0x9100)
 *   and MPLS labels. tcpdump reads fixed offsets: its `host X` misses tagged frames unless written
 *   `vlan and host X`, and its `vlan`/`mpls` keywords shift the offsets of everything after them, even under `not`
 *   or in another `or` branch. Here `vlan` and `mpls` are plain tests: `vlan` = the frame has a tag; `vlan 10` = ANY
 *   tag in the stack has id 10 (tcpdump: the first tag not yet consumed by an earlier `vlan`; only the first 8 tags
 *   are kept); `mpls 29` = any label in the stack is 29. VLAN tags are read on every link type with ethertypes
 *   (tcpdump has no `vlan` on Linux cooked captures); MPLS is also recognized by its multicast ethertype 0x8848 and
 *   PPP protocol 0x0283, and an MPLS payload is taken as IPv4/IPv6 by its first nibble (tcpdump does this only
 *   after an explicit `mpls and`).
 * - `ip`, `ip6`, `arp`, `rarp` mean the packet carries that protocol at any such depth. `ether proto N` matches the
 *   outer type field or the one after the VLAN tags; N must be an ethertype (>= 0x0600), not an 802.2 SAP.
 * - IPv6 extension headers. `tcp`, `udp`, `sctp`, `icmp6`, `ip6 proto N` and `proto N` compare the upper-layer
 *   protocol after the whole hop-by-hop / routing / fragment / destination-options / AH chain; tcpdump looks only at
 *   the IPv6 next-header field and behind a fragment header directly after it. So `ip6 proto 0` or `ip6 proto 44`
 *   (the extension headers themselves) match nothing here. `port`/`portrange` likewise find TCP/UDP/SCTP ports
 *   behind extension headers and in first IPv6 fragments (tcpdump: only directly behind the IPv6 header).
 *   Non-first fragments, IPv4 or IPv6, never match ports, as in tcpdump.
 * - Headers are read where their own fields put them: ARP addresses by the ARP header's length fields (only 4-byte
 *   protocol addresses; tcpdump reads fixed offsets 14 and 24, the same for Ethernet/IPv4), PPP with or without the
 *   FF 03 framing and with compressed protocol fields (tcpdump assumes FF 03 and 2 bytes), FDDI only with LLC/SNAP;
 *   an IPv4 header length below 20 bytes hides the transport header (tcpdump reads ports at 4 × IHL anyway).
 *   BSD loopback's address family is accepted in either byte order (tcpdump assumes the file's). 802.11 data
 *   frames with four addresses (between two distribution systems) have their fourth address skipped (libpcap's
 *   header length leaves it out), and IP is read only behind an LLC/SNAP header of an unprotected data frame
 *   (libpcap checks just the type field where SNAP's would be). `ether src/dst` on 802.11 are SA/DA, as in tcpdump.
 *   NFLOG is decoded (tcpdump cannot filter it).
 * - Cut-short packets. A primitive whose header bytes were not captured is false, and its negation true; tcpdump's
 *   BPF instead rejects the whole packet as soon as any test reads past the captured bytes (so there `not ip` is
 *   false for a frame cut inside its Ethernet header).
 * - `ether host|src|dst` match Ethernet and FDDI frames only (tcpdump refuses them on other link types).
 * - Each packet of a pcapng is decoded by its own interface's link type (tcpdump refuses files that mix them).
 * - Errors instead of another meaning: host names (give addresses), `gateway` and other primitives outside the
 *   subset, `ether proto` with a SAP, a bare id with no qualifier before it (tcpdump reads `tcpdump 10` as host
 *   0.0.0.10), packet-data accessors (`ip[9] = 6`), non-contiguous netmasks. Port names come from a built-in table
 *   of well-known services (Debian netbase), not /etc/services; as in tcpdump, a name listed only for TCP (`http`)
 *   or only for UDP (`ntp`) matches only that protocol.
 * - Additions: `before T` / `after T` (Stenographer) test only the packet's timestamp. T is RFC 3339
 *   (`2024-05-01T12:00:00Z`, fractions to the nanosecond, `Z` or `+hh:mm`) or relative (`45m ago`, `1h30m ago`;
 *   units ns us ms s m h d; taken when the filter is parsed). `after T` keeps packets at or after T, `before T`
 *   packets strictly before T, so `after A and before B` is the half-open interval [A, B). Keywords are
 *   case-insensitive, and protocol names after `proto` need no backslash.
 */

/** Offsets into the expression text, [start, end), of the words a node was parsed from. */
export interface Span {
  start: number
  end: number
}

export type Direction = 'src' | 'dst' | 'src or dst' | 'src and dst'

/** An IPv4 address as one unsigned 32-bit word, or an IPv6 address as four big-endian words. */
export type IpWords = [number] | [number, number, number, number]

/** Which headers `host`/`net` look at: 'any' = IPv4 + ARP + RARP for IPv4 addresses, IPv6 for IPv6 addresses. */
export type AddressProtocol = 'any' | 'ip' | 'ip6' | 'arp' | 'rarp'

/** Which transport headers `port`/`portrange` look at. */
export type PortProtocol = 'any' | 'tcp' | 'udp' | 'sctp'

export interface AndNode {
  kind: 'and'
  args: Ast[]
  span: Span
}

export interface OrNode {
  kind: 'or'
  args: Ast[]
  span: Span
}

export interface NotNode {
  kind: 'not'
  arg: Ast
  span: Span
}

/** `host`: one address; `net`: an address and a prefix length (host bits are zero). */
export interface AddressNode {
  kind: 'host' | 'net'
  dir: Direction
  protocol: AddressProtocol
  family: 4 | 6
  words: IpWords
  /** 32 or 128 for `host`. */
  prefixLen: number
  span: Span
}

/** `ether host|src|dst MAC`; the MAC as its high 16 and low 32 bits (as in Fields). */
export interface EtherHostNode {
  kind: 'etherHost'
  dir: Direction
  hi: number
  lo: number
  span: Span
}

/** `port N` (low = high) and `portrange A-B`. */
export interface PortNode {
  kind: 'port'
  dir: Direction
  protocol: PortProtocol
  low: number
  high: number
  span: Span
}

/** `ip`, `ip6`, `arp`, `rarp`: the packet carries that network protocol. */
export interface NetworkNode {
  kind: 'network'
  protocol: 'ip' | 'ip6' | 'arp' | 'rarp'
  span: Span
}

/** `tcp`, `udp`, `sctp`, `icmp`, `icmp6`, `igmp`, `ip proto N`, `ip6 proto N`, `proto N`. */
export interface IpProtoNode {
  kind: 'ipProto'
  /** IP version the protocol must be carried in; 0 for either. */
  ipVersion: 0 | 4 | 6
  protocol: number
  span: Span
}

export interface EtherProtoNode {
  kind: 'etherProto'
  etherType: number
  span: Span
}

export interface VlanNode {
  kind: 'vlan'
  /** null: any tagged frame. */
  id: number | null
  span: Span
}

export interface MplsNode {
  kind: 'mpls'
  /** null: any labelled packet. */
  label: number | null
  span: Span
}

/** `less N` (wire length <= N) and `greater N` (wire length >= N). */
export interface LengthNode {
  kind: 'length'
  op: '<=' | '>='
  bytes: number
  span: Span
}

/** `before T` (timestamp < T) and `after T` (timestamp >= T). */
export interface TimeNode {
  kind: 'time'
  op: 'before' | 'after'
  sec: number
  nsec: number
  span: Span
}

export type Ast =
  | AndNode | OrNode | NotNode | AddressNode | EtherHostNode | PortNode | NetworkNode | IpProtoNode | EtherProtoNode
  | VlanNode | MplsNode | LengthNode | TimeNode
