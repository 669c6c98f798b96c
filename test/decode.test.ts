// Packet decoding: hand-built packets for every link type and layer, tshark as an independent oracle on the shared
// captures, and robustness on ~830 odd and malformed captures (never throw, never read past the captured bytes).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {statSync} from 'node:fs'
import {join} from 'node:path'
import {CORPUS, HAVE_SHARED, SHARED, capturesIn, hasTool, tempDir, tool} from './helpers.js'
import {CaptureReader} from '../src/pcap/reader.js'
import {LINKTYPE} from '../src/pcap/linktype.js'
import {decode, DECODED_LINK_TYPES} from '../src/decode/decode.js'
import {Fields, LAYER} from '../src/decode/fields.js'

// ---------------------------------------------------------------------------------------------------------------
// Hand-built packets, as hex.

const h16 = (n: number) => n.toString(16).padStart(4, '0')
const ip4hex = (a: string) => a.split('.').map((p) => Number(p).toString(16).padStart(2, '0')).join('')
const MAC_DST = '001122334455'
const MAC_SRC = '66778899aabb'
const eth = (type: string, payload: string) => MAC_DST + MAC_SRC + type + payload
/** An MPLS label stack entry (TTL 255). */
const label = (value: number, bottom: boolean) => ((value * 4096 + (bottom ? 0x1ff : 0x0ff)) >>> 0).toString(16).padStart(8, '0')
const ipv4 = (proto: number, payload: string, opts: {frag?: string; options?: string; src?: string; dst?: string} = {}) => {
  const options = opts.options ?? ''
  const ihl = 5 + options.length / 8
  const total = ihl * 4 + payload.length / 2
  return `4${ihl.toString(16)}00${h16(total)}0000${opts.frag ?? '0000'}40${proto.toString(16).padStart(2, '0')}0000`
    + ip4hex(opts.src ?? '10.0.0.1') + ip4hex(opts.dst ?? '10.0.0.2') + options + payload
}
const IP6_SRC = '20010db8000000000000000000000001'
const IP6_DST = '20010db8000000000000000000000002'
const ipv6 = (next: number, payload: string) =>
  `60000000${h16(payload.length / 2)}${next.toString(16).padStart(2, '0')}40${IP6_SRC}${IP6_DST}${payload}`
const udp = (sport: number, dport: number, payload = '') => `${h16(sport)}${h16(dport)}${h16(8 + payload.length / 2)}0000${payload}`
const tcp = (sport: number, dport: number) => `${h16(sport)}${h16(dport)}000000010000000050020000aaaa0000`

/** A locally administered address 02:00:00:00:00:0n. */
const ADDR = (n: number) => `02000000000${n}`
const WLAN_ADDR4 = ADDR(4)
/** An 802.11 data frame header with frame control `fc` (hex, byte 0 first): addresses 1-3, then `extra` (address 4, QoS), LLC/SNAP. */
const wlan = (fc: string, extra = '', type = '0800') => `${fc}0000${ADDR(1)}${ADDR(2)}${ADDR(3)}0000${extra}aaaa03000000${type}`
/** An NFLOG payload attribute (type 9; little-endian length including its 4-byte header). */
const nflogPayload = (packet: string) => {
  const len = 4 + packet.length / 2
  return `${(len & 0xff).toString(16).padStart(2, '0')}${(len >> 8).toString(16).padStart(2, '0')}0900${packet}`
}

function decodeHex(linkType: number, hex: string, f = new Fields()): Fields {
  const buf = Buffer.from(hex.replace(/\s/g, ''), 'hex')
  decode(buf, 0, buf.length, linkType, f, buf.length + 4)
  return f
}

const layerNames = (layers: number) => Object.entries(LAYER).filter(([, bit]) => layers & bit).map(([n]) => n).sort()

test('Ethernet with QinQ tags: every id outermost first, the innermost ethertype, then IPv4/UDP', () => {
  const f = decodeHex(LINKTYPE.ETHERNET, eth('88a8', `${h16(100)}8100${h16(0x2000 | 200)}9100${h16(300)}0800${ipv4(17, udp(5353, 53))}`))
  assert.deepEqual(layerNames(f.layers), ['IPV4', 'LINK', 'MAC', 'UDP', 'VLAN'])
  assert.deepEqual([...f.vlanIds.slice(0, f.vlanCount)], [100, 200, 300], 'priority bits are not part of the id')
  assert.equal(f.outerEtherType, 0x88a8)
  assert.equal(f.etherType, 0x0800)
  assert.equal(f.macDstHi, 0x0011)
  assert.equal(f.macDstLo, 0x22334455)
  assert.equal(f.macSrcHi, 0x6677)
  assert.equal(f.macSrcLo, 0x8899aabb)
  assert.equal(f.ipVersion, 4)
  assert.equal(f.ip4Src, 0x0a000001)
  assert.equal(f.ip4Dst, 0x0a000002)
  assert.equal(f.ipProto, 17)
  assert.deepEqual([f.srcPort, f.dstPort], [5353, 53])
  assert.equal(f.wireLen, f.capLen + 4)
})

test('more tags than MAX_VLAN_TAGS are counted, the first ones kept', () => {
  let frame = ''
  for (let i = 1; i <= 10; i++) frame += `${h16(i)}${i === 10 ? '0806' : '8100'}`
  const f = decodeHex(LINKTYPE.ETHERNET, eth('8100', frame))
  assert.equal(f.vlanCount, 10)
  assert.deepEqual([...f.vlanIds], [1, 2, 3, 4, 5, 6, 7, 8])
  assert.equal(f.etherType, 0x0806)
})

test('MPLS: labels top first; the payload is guessed IPv4/IPv6 by its first nibble, else left alone', () => {
  const two = decodeHex(LINKTYPE.ETHERNET, eth('8847', `${label(18, false)}${label(16, true)}${ipv6(6, tcp(1234, 443))}`))
  assert.deepEqual([...two.mplsLabels.slice(0, two.mplsCount)], [18, 16])
  assert.deepEqual(layerNames(two.layers), ['IPV6', 'LINK', 'MAC', 'MPLS', 'TCP'])
  assert.equal(two.etherType, 0x8847)
  assert.equal(two.ipVersion, 6)
  assert.deepEqual([two.srcPort, two.dstPort], [1234, 443])
  const pseudowire = decodeHex(LINKTYPE.ETHERNET, eth('8848', `${label(0xfffff, true)}00000000${eth('0800', ipv4(6, tcp(1, 2)))}`))
  assert.deepEqual([...pseudowire.mplsLabels.slice(0, pseudowire.mplsCount)], [0xfffff])
  assert.equal(pseudowire.ipVersion, 0, 'a control word (nibble 0) is not IP; the inner frame is not decoded')
  assert.deepEqual(layerNames(pseudowire.layers), ['LINK', 'MAC', 'MPLS'])
})

test('IPv4 fragments: ports only at offset 0; options move the transport header', () => {
  const first = decodeHex(LINKTYPE.ETHERNET, eth('0800', ipv4(17, udp(123, 137), {frag: '2000'})))
  assert.equal(first.isFragment, true)
  assert.equal(first.fragOffset, 0)
  assert.ok(first.layers & LAYER.UDP)
  const later = decodeHex(LINKTYPE.ETHERNET, eth('0800', ipv4(17, udp(123, 137), {frag: '0006'})))
  assert.equal(later.isFragment, true)
  assert.equal(later.fragOffset, 48)
  assert.equal(later.ipProto, 17)
  assert.equal(later.layers & LAYER.UDP, 0)
  const unfragmented = decodeHex(LINKTYPE.ETHERNET, eth('0800', ipv4(6, tcp(22, 40000), {frag: '4000'})))
  assert.equal(unfragmented.isFragment, false, 'DF alone is not a fragment')
  const withOptions = decodeHex(LINKTYPE.ETHERNET, eth('0800', ipv4(6, tcp(22, 40000), {options: '94040000'})))
  assert.deepEqual([withOptions.srcPort, withOptions.dstPort], [22, 40000])
  assert.equal(withOptions.l4Offset, 14 + 24)
  const badLength = decodeHex(LINKTYPE.ETHERNET, eth('0800', ipv4(6, tcp(22, 40000)).replace(/^45/, '43')))
  assert.deepEqual(layerNames(badLength.layers), ['IPV4', 'LINK', 'MAC'], 'a header length below 20 hides the transport')
})

test('IPv6 extension headers are walked to the upper layer; a later fragment stops at the fragment header', () => {
  // hop-by-hop → fragment (offset 0, id 1) → destination options → UDP
  const chain = ipv6(0, `2c00${'0'.repeat(12)}` + '3c00000000000001' + `1100${'0'.repeat(12)}` + udp(546, 547))
  const f = decodeHex(LINKTYPE.ETHERNET, eth('86dd', chain))
  assert.deepEqual(layerNames(f.layers), ['IPV6', 'LINK', 'MAC', 'UDP'])
  assert.equal(f.ipProto, 17)
  assert.equal(f.isFragment, true)
  assert.equal(f.fragOffset, 0)
  assert.deepEqual([f.srcPort, f.dstPort], [546, 547])
  assert.deepEqual([...f.ip6Src], [0x20010db8, 0, 0, 1])
  assert.deepEqual([...f.ip6Dst], [0x20010db8, 0, 0, 2])
  const later = decodeHex(LINKTYPE.ETHERNET, eth('86dd', ipv6(44, `1100${h16(0x05a8)}00000001${udp(546, 547)}`)))
  assert.equal(later.fragOffset, 0x05a8)
  assert.equal(later.ipProto, 17)
  assert.equal(later.layers & LAYER.UDP, 0)
  // AH (RFC 4302: length in 4-byte units minus 2) in front of ICMPv6.
  const ah = decodeHex(LINKTYPE.ETHERNET, eth('86dd', ipv6(51, `3a040000 00000100 00000001 ${'0'.repeat(24)} 8000abcd`)))
  assert.equal(ah.ipProto, 58)
  assert.deepEqual([ah.icmpType, ah.icmpCode], [0x80, 0])
  // A chain cut short reports the last next-header it could read.
  const cut = decodeHex(LINKTYPE.ETHERNET, eth('86dd', ipv6(0, '2c00')))
  assert.equal(cut.ipProto, 44)
  assert.deepEqual(layerNames(cut.layers), ['IPV6', 'LINK', 'MAC'])
})

test('ARP/RARP, ICMP, GRE and VXLAN', () => {
  const arp = decodeHex(LINKTYPE.ETHERNET, eth('0806', `000108000604 0001 ${MAC_SRC} ${ip4hex('192.0.2.1')} 000000000000 ${ip4hex('192.0.2.2')}`))
  assert.deepEqual(layerNames(arp.layers), ['ARP', 'LINK', 'MAC'])
  assert.deepEqual([arp.arpOp, arp.arpSenderIp, arp.arpTargetIp], [1, 0xc0000201, 0xc0000202])
  const rarp = decodeHex(LINKTYPE.ETHERNET, eth('8035', `000108000604 0003 ${MAC_SRC} 00000000 ${MAC_SRC} 00000000`))
  assert.equal(rarp.etherType, 0x8035)
  assert.equal(rarp.arpOp, 3)
  const icmp = decodeHex(LINKTYPE.ETHERNET, eth('0800', ipv4(1, '0b00ffff00000000')))
  assert.deepEqual([icmp.icmpType, icmp.icmpCode], [11, 0])
  assert.ok(icmp.layers & LAYER.ICMP)
  const gre = decodeHex(LINKTYPE.ETHERNET, eth('0800', ipv4(47, `0000880b${'ff03'}`)))
  assert.ok(gre.layers & LAYER.GRE)
  assert.equal(gre.greProtocol, 0x880b)
  const vxlan = decodeHex(LINKTYPE.ETHERNET, eth('0800', ipv4(17, udp(40000, 4789, `08000000${'00123400'}${eth('0800', ipv4(6, tcp(1, 2), {src: '172.16.0.1'}))}`))))
  assert.ok(vxlan.layers & LAYER.VXLAN)
  assert.equal(vxlan.vxlanVni, 0x1234)
  assert.equal(vxlan.ip4Src, 0x0a000001, 'the outer header is what is decoded')
})

test('every supported link type reaches the network layer', () => {
  const ip = ipv4(6, tcp(80, 1024))
  const ip6 = ipv6(17, udp(53, 5353))
  const cases: [string, number, string, number][] = [
    ['BSD loopback, little-endian AF_INET', LINKTYPE.NULL, `02000000${ip}`, 4],
    ['BSD loopback, big-endian AF_INET6 (Darwin)', LINKTYPE.NULL, `0000001e${ip6}`, 6],
    ['BSD loopback, little-endian AF_INET6 (FreeBSD)', LINKTYPE.NULL, `1c000000${ip6}`, 6],
    ['OpenBSD loop, AF_INET6 (24)', LINKTYPE.LOOP, `00000018${ip6}`, 6],
    ['raw IP, IPv4', LINKTYPE.RAW, ip, 4],
    ['raw IP, IPv6', LINKTYPE.RAW, ip6, 6],
    ['raw IP (12)', LINKTYPE.RAW_OLD, ip6, 6],
    ['raw IP (14)', LINKTYPE.RAW_OLD2, ip, 4],
    ['LINKTYPE_IPV4', LINKTYPE.IPV4, ip, 4],
    ['LINKTYPE_IPV6', LINKTYPE.IPV6, ip6, 6],
    ['Linux SLL', LINKTYPE.LINUX_SLL, `000000010006${MAC_SRC}00000800${ip}`, 4],
    ['Linux SLL2', LINKTYPE.LINUX_SLL2, `86dd 0000 00000002 0001 00 06 ${MAC_SRC}0000 ${ip6}`, 6],
    ['PPP in HDLC-like framing', LINKTYPE.PPP, `ff030021${ip}`, 4],
    ['PPP without address/control', LINKTYPE.PPP, `0057${ip6}`, 6],
    ['PPP with a compressed protocol field', LINKTYPE.PPP, `21${ip}`, 4],
    ['PPP_HDLC', LINKTYPE.PPP_HDLC, `ff030021${ip}`, 4],
    ['Cisco HDLC', LINKTYPE.C_HDLC, `0f000800${ip}`, 4],
    ['FDDI with SNAP', LINKTYPE.FDDI, `50${MAC_DST}${MAC_SRC}aaaa030000000800${ip}`, 4],
    ['802.11 QoS data to the DS', LINKTYPE.IEEE802_11, wlan('8801', '0000') + ip, 4],
    ['802.11 data from the DS', LINKTYPE.IEEE802_11, wlan('0802', '', '86dd') + ip6, 6],
    ['802.11 data between two DSes (four addresses)', LINKTYPE.IEEE802_11, wlan('0803', WLAN_ADDR4) + ip, 4],
    ['radiotap', LINKTYPE.IEEE802_11_RADIOTAP, `00000c00 00000000 11223344 ${wlan('0801')}${ip}`, 4],
    ['PPI with 802.11', LINKTYPE.PPI, `00000800 69000000 ${wlan('0801')}${ip}`, 4],
    ['PPI with Ethernet', LINKTYPE.PPI, `00000800 01000000 ${eth('0800', ip)}`, 4],
    ['NFLOG, IPv4 after another attribute', LINKTYPE.NFLOG, `02000000 0500 0100 aa000000 ${nflogPayload(ip)}`, 4],
    ['NFLOG, IPv6', LINKTYPE.NFLOG, `0a000000 ${nflogPayload(ip6)}`, 6],
  ]
  for (const [name, linkType, hex, version] of cases) {
    const f = decodeHex(linkType, hex)
    assert.equal(f.ipVersion, version, name)
    assert.ok(f.layers & (version === 4 ? LAYER.IPV4 : LAYER.IPV6), name)
    assert.ok(f.layers & (version === 4 ? LAYER.TCP : LAYER.UDP), name)
    assert.equal(f.etherType, version === 4 ? 0x0800 : 0x86dd, name)
    assert.ok(DECODED_LINK_TYPES.has(linkType), name)
  }
  const fddi = decodeHex(LINKTYPE.FDDI, `50${MAC_DST}${MAC_SRC}aaaa030000000800${ip}`)
  assert.equal(fddi.macSrcLo, 0x8899aabb)
  const mplsOverPpp = decodeHex(LINKTYPE.PPP, `ff030281${label(100704, true)}${ip}`)
  assert.deepEqual([...mplsOverPpp.mplsLabels.slice(0, 1)], [100704])
  assert.equal(mplsOverPpp.ipVersion, 4)
  assert.equal(decodeHex(195, ip).layers, 0, 'unsupported link types (802.15.4 here) decode to nothing')
  // 802.11 addresses as tcpdump's ether src/dst read them: SA and DA move with the DS bits; control frames have none.
  const toDs = decodeHex(LINKTYPE.IEEE802_11, wlan('0801') + ip)
  assert.deepEqual([macText(toDs.macSrcHi, toDs.macSrcLo), macText(toDs.macDstHi, toDs.macDstLo)], ['02:00:00:00:00:02', '02:00:00:00:00:03'])
  const bridged = decodeHex(LINKTYPE.IEEE802_11, wlan('0803', WLAN_ADDR4) + ip)
  assert.deepEqual([macText(bridged.macSrcHi, bridged.macSrcLo), macText(bridged.macDstHi, bridged.macDstLo)], ['02:00:00:00:00:04', '02:00:00:00:00:03'])
  const beacon = decodeHex(LINKTYPE.IEEE802_11, `8000 0000 ffffffffffff ${ADDR(2)} ${ADDR(2)} 0000 ${'00'.repeat(12)}`)
  assert.equal(beacon.layers & (LAYER.MAC | LAYER.IPV4), LAYER.MAC)
  assert.equal(macText(beacon.macDstHi, beacon.macDstLo), 'ff:ff:ff:ff:ff:ff')
  assert.equal(decodeHex(LINKTYPE.IEEE802_11, `d400 0000 ${ADDR(1)}`).layers & LAYER.MAC, 0, 'an ACK has no SA/DA')
  assert.equal(decodeHex(LINKTYPE.IEEE802_11, wlan('0841') + ip).layers & LAYER.IPV4, 0, 'a protected frame is not read')
  assert.equal(decodeHex(LINKTYPE.IEEE802_11, wlan('4801') + ip).layers & LAYER.IPV4, 0, 'a null function carries no data')
  assert.equal(decodeHex(LINKTYPE.RAW, `55${ip.slice(2)}`).ipVersion, 0, 'raw IP with version 5 is not IP')
})

test('every prefix of a packet decodes without throwing, to a subset of the full layers', () => {
  const packets: [number, string][] = [
    [LINKTYPE.ETHERNET, eth('88a8', `${h16(100)}8847${label(29, true)}${ipv6(0, `2c00${'0'.repeat(12)}0600000000000001${tcp(1, 2)}`)}`)],
    [LINKTYPE.ETHERNET, eth('0806', `000108000604 0001 ${MAC_SRC} ${ip4hex('192.0.2.1')} 000000000000 ${ip4hex('192.0.2.2')}`)],
    [LINKTYPE.PPP, `ff030021${ipv4(17, udp(1, 4789, `08000000${'00123400'}`))}`],
    [LINKTYPE.IEEE802_11_RADIOTAP, `00000c00 00000000 11223344 ${wlan('8803', `${WLAN_ADDR4}0000`)}${ipv4(6, tcp(1, 2))}`],
    [LINKTYPE.NFLOG, `02000000 0500 0100 aa000000 ${nflogPayload(ipv4(17, udp(1, 2)))}`],
  ]
  for (const [linkType, hex] of packets) {
    const full = Buffer.from(hex.replace(/\s/g, ''), 'hex')
    const whole = new Fields()
    decode(full, 0, full.length, linkType, whole)
    for (let len = 0; len <= full.length; len++) {
      const f = new Fields()
      // The rest of the buffer is still there: decode must not look past caplen.
      decode(full, 0, len, linkType, f)
      assert.equal(f.layers & ~whole.layers, 0, `prefix ${len}`)
      assert.deepEqual(snapshot(f), snapshot(decodeExact(full, 0, len, linkType)), `prefix ${len} reads past caplen`)
    }
  }
})

// ---------------------------------------------------------------------------------------------------------------
// Robustness: the tcpdump test corpus (~830 odd, truncated and malformed captures).

/** The fields a layer bit vouches for, as plain data. */
function snapshot(f: Fields): Record<string, unknown> {
  const s: Record<string, unknown> = {layers: f.layers, etherType: f.etherType, outer: f.outerEtherType, ip: f.ipVersion}
  if (f.layers & LAYER.MAC) s.mac = [f.macSrcHi, f.macSrcLo, f.macDstHi, f.macDstLo]
  s.vlans = [...f.vlanIds.slice(0, Math.min(f.vlanCount, f.vlanIds.length))]
  s.labels = [...f.mplsLabels.slice(0, Math.min(f.mplsCount, f.mplsLabels.length))]
  if (f.layers & LAYER.IPV4) s.ip4 = [f.ip4Src, f.ip4Dst, f.ipProto, f.isFragment, f.fragOffset]
  if (f.layers & LAYER.IPV6) s.ip6 = [...f.ip6Src, ...f.ip6Dst, f.ipProto, f.isFragment, f.fragOffset]
  if (f.layers & (LAYER.TCP | LAYER.UDP | LAYER.SCTP)) s.ports = [f.srcPort, f.dstPort]
  if (f.layers & (LAYER.ICMP | LAYER.ICMPV6)) s.icmp = [f.icmpType, f.icmpCode]
  if (f.layers & LAYER.ARP) s.arp = [f.arpOp, f.arpSenderIp, f.arpTargetIp]
  if (f.layers & LAYER.GRE) s.gre = f.greProtocol
  if (f.layers & LAYER.VXLAN) s.vni = f.vxlanVni
  return s
}

/** Decodes a copy holding exactly the captured bytes, so that any read past caplen would see nothing. */
function decodeExact(buf: Uint8Array, start: number, caplen: number, linkType: number): Fields {
  const f = new Fields()
  decode(buf.slice(start, start + caplen), 0, caplen, linkType, f)
  return f
}

test('every packet of the tcpdump corpus decodes without throwing or reading past its captured bytes', {
  skip: capturesIn(CORPUS).length === 0 ? 'no corpus' : false,
}, async (t) => {
  let files = 0
  let packets = 0
  let prefixes = 0
  const fields = new Fields()
  for (const file of capturesIn(CORPUS)) {
    let reader: CaptureReader
    try {
      reader = await CaptureReader.open(file)
    } catch {
      continue // not a capture we read at all; the reader's tests cover that
    }
    files++
    try {
      await reader.forEach((rec) => {
        packets++
        decode(rec.buf, rec.dataStart, rec.caplen, rec.linkType, fields, rec.origLen)
        const exact = decodeExact(rec.buf, rec.dataStart, rec.caplen, rec.linkType)
        assert.deepEqual(snapshot(exact), snapshot(fields), `${file} record at ${rec.offset}`)
        // Truncations inside the headers: the cases a short snap length produces.
        for (let len = Math.min(rec.caplen, 96) - 1; len >= 0; len -= 3) {
          decode(rec.buf, rec.dataStart, len, rec.linkType, fields)
          prefixes++
        }
      })
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e
      // Damaged files stop the reader; the records before the damage were decoded.
    } finally {
      await reader.close()
    }
  }
  t.diagnostic(`${packets} packets of ${files} corpus captures decoded, plus ${prefixes} truncations`)
  assert.ok(files > 700 && packets > 10_000, `${files} files, ${packets} packets`)
})

// ---------------------------------------------------------------------------------------------------------------
// tshark as an independent oracle for the fields, on the shared captures merged into one pcapng.

const TSHARK_FIELDS = [
  'frame.interface_id', 'frame.protocols', 'eth.src', 'eth.dst', 'vlan.id', 'ieee8021ad.id', 'mpls.label', 'mpls.bottom', 'ip.src', 'ip.dst', 'ip.proto',
  'ip.frag_offset', 'ipv6.src', 'ipv6.dst', 'ipv6.fraghdr.offset', 'tcp.srcport', 'tcp.dstport', 'udp.srcport',
  'udp.dstport', 'sctp.srcport', 'sctp.dstport', 'icmp.type', 'icmp.code', 'icmpv6.type', 'icmpv6.code',
  'arp.src.proto_ipv4', 'arp.dst.proto_ipv4',
] as const
type TsharkRow = Record<(typeof TSHARK_FIELDS)[number], string[]>

const TRANSPORTS: Record<string, {layer: number; protocol: number}> = {
  tcp: {layer: LAYER.TCP, protocol: 6}, udp: {layer: LAYER.UDP, protocol: 17}, sctp: {layer: LAYER.SCTP, protocol: 132},
  icmp: {layer: LAYER.ICMP, protocol: 1}, icmpv6: {layer: LAYER.ICMPV6, protocol: 58},
}

/** tshark's protocol tokens of headers between the link layer and the network layer, which name no field we check. */
const PASSED_THROUGH = new Set(['ethertype', 'llc', 'radiotap', 'wlan_radio', 'wlan', 'ppi', 'nflog'])

/**
 * What tshark says about the OUTER headers of one packet, in our terms. frame.protocols orders the layers; a
 * field's first occurrence belongs to the outermost header that has it, which is the one we decode unless an inner
 * Ethernet frame (pseudowire, VXLAN) comes first.
 */
function expectedFrom(row: TsharkRow): Record<string, unknown> {
  const tokens = row['frame.protocols'][0].split(':')
  const e: Record<string, unknown> = {}
  if (tokens[0] === 'eth' && row['eth.src'].length > 0) e.mac = [row['eth.src'][0], row['eth.dst'][0]]
  const vlans: number[] = []
  const labels: number[] = []
  let vlan = 0
  let ad = 0
  // Raw IP link types have no link token.
  let i = tokens[0] === 'ip' || tokens[0] === 'ipv6' ? 0 : 1
  for (; i < tokens.length; i++) {
    const t = tokens[i]
    if (t === 'vlan') {
      vlans.push(Number(row['vlan.id'][vlan++]))
    } else if (t === 'ieee8021ad') {
      vlans.push(Number(row['ieee8021ad.id'][ad++]))
    } else if (t === 'mpls') {
      // One token stands for the whole stack: it ends at the first bottom-of-stack flag.
      do labels.push(Number(row['mpls.label'][labels.length]))
      while (row['mpls.bottom'][labels.length - 1] === '0' && labels.length < row['mpls.label'].length)
    } else if (!PASSED_THROUGH.has(t)) {
      break
    }
  }
  e.vlans = vlans
  e.labels = labels
  const network = tokens[i]
  if (network === 'ip') {
    e.ip4 = [row['ip.src'][0], row['ip.dst'][0], Number(row['ip.proto'][0]), Number(row['ip.frag_offset'][0]) * 8]
  } else if (network === 'ipv6') {
    e.ip6 = [row['ipv6.src'][0], row['ipv6.dst'][0], Number(row['ipv6.fraghdr.offset'][0] ?? 0) * 8]
  } else if (network === 'arp') {
    e.arp = [row['arp.src.proto_ipv4'][0], row['arp.dst.proto_ipv4'][0]]
  }
  if (network === 'ip' || network === 'ipv6') {
    while (tokens[++i]?.startsWith('ipv6.')) { /* extension headers */ }
    const transport = tokens[i]
    if (transport !== undefined && Object.hasOwn(TRANSPORTS, transport)) {
      e.transport = transport
      e.ports = transport.startsWith('icmp')
        ? [Number(row[`${transport as 'icmp' | 'icmpv6'}.type`][0]), Number(row[`${transport as 'icmp' | 'icmpv6'}.code`][0])]
        : [Number(row[`${transport as 'tcp' | 'udp' | 'sctp'}.srcport`][0]), Number(row[`${transport as 'tcp' | 'udp' | 'sctp'}.dstport`][0])]
    }
  }
  return e
}

const macText = (hi: number, lo: number) => (hi.toString(16).padStart(4, '0') + lo.toString(16).padStart(8, '0')).replace(/(..)(?!$)/g, '$1:')
const ip4Text = (a: number) => [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.')
/** RFC 5952 text, as tshark prints it. */
function ip6Text(w: Uint32Array): string {
  const groups = [...w].flatMap((x) => [x >>> 16, x & 0xffff])
  let best = [-1, 0]
  for (let s = 0; s < 8; s++) {
    let n = 0
    while (s + n < 8 && groups[s + n] === 0) n++
    if (n > best[1] && n > 1) best = [s, n]
  }
  const hex = groups.map((g) => g.toString(16))
  if (best[0] < 0) return hex.join(':')
  return `${hex.slice(0, best[0]).join(':')}::${hex.slice(best[0] + best[1]).join(':')}`
}

/** Our fields in the same terms, limited to what tshark's row speaks about. */
function actualFrom(f: Fields, expected: Record<string, unknown>): Record<string, unknown> {
  const a: Record<string, unknown> = {}
  if ('mac' in expected) a.mac = f.layers & LAYER.MAC ? [macText(f.macSrcHi, f.macSrcLo), macText(f.macDstHi, f.macDstLo)] : null
  a.vlans = [...f.vlanIds.slice(0, f.vlanCount)]
  a.labels = [...f.mplsLabels.slice(0, f.mplsCount)]
  if (f.layers & LAYER.IPV4) a.ip4 = [ip4Text(f.ip4Src), ip4Text(f.ip4Dst), f.ipProto, f.fragOffset]
  if (f.layers & LAYER.IPV6) a.ip6 = [ip6Text(f.ip6Src), ip6Text(f.ip6Dst), f.isFragment ? f.fragOffset : 0]
  if (f.layers & LAYER.ARP) a.arp = [ip4Text(f.arpSenderIp), ip4Text(f.arpTargetIp)]
  for (const [name, {layer, protocol}] of Object.entries(TRANSPORTS)) {
    if ((f.layers & layer) === 0) continue
    a.transport = name
    a.ports = name.startsWith('icmp') ? [f.icmpType, f.icmpCode] : [f.srcPort, f.dstPort]
    assert.equal(f.ipProto, protocol)
  }
  return a
}

test('decoded fields agree with tshark on the shared captures', {
  skip: !HAVE_SHARED ? 'no shared captures' : !hasTool('tshark') || !hasTool('mergecap') ? 'no tshark/mergecap' : false,
}, async (t) => {
  // Every small capture we read to the end, concatenated (mergecap -a keeps the order) so tshark starts once.
  const inputs: string[] = []
  for (const file of capturesIn(SHARED)) {
    if (statSync(file).size > 3 << 20) continue
    let reader: CaptureReader
    try {
      reader = await CaptureReader.open(file)
    } catch {
      continue // not a version we read
    }
    try {
      await reader.forEach(() => {})
      if (reader.truncated === 0) inputs.push(file)
    } catch {
      // damaged: mergecap would stop there
    } finally {
      await reader.close()
    }
  }
  const merged = join(tempDir(t), 'merged.pcapng')
  execFileSync('mergecap', ['-a', '-F', 'pcapng', '-w', merged, ...inputs], {stdio: 'ignore'})
  const out = tool('tshark', [
    '-r', merged, '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-T', 'fields', '-E', 'occurrence=a',
    '-E', 'separator=|', '-E', 'aggregator=,', ...TSHARK_FIELDS.flatMap((f) => ['-e', f]),
  ]).toString().trimEnd().split('\n')
    // pcapng blocks that are not packets (custom, journal) are frames to tshark, without an interface.
    .filter((line) => !line.startsWith('|'))
  const fields = new Fields()
  const mismatches: string[] = []
  const tally: Record<string, number> = {}
  let compared = 0
  let index = 0
  const reader = await CaptureReader.open(merged)
  await reader.forEach((rec) => {
    const cells = out[index++].split('|')
    const row = Object.fromEntries(TSHARK_FIELDS.map((name, i) => [name, cells[i] === '' ? [] : cells[i].split(',')])) as TsharkRow
    if (!DECODED_LINK_TYPES.has(rec.linkType)) return
    decode(rec.buf, rec.dataStart, rec.caplen, rec.linkType, fields, rec.origLen)
    const expected = expectedFrom(row)
    const actual = actualFrom(fields, expected)
    compared++
    for (const [key, value] of Object.entries(expected)) if (!Array.isArray(value) || value.length > 0) tally[key] = (tally[key] ?? 0) + 1
    try {
      assert.deepEqual(actual, expected)
    } catch {
      mismatches.push(`#${index - 1} ${row['frame.protocols'][0]}: ours ${JSON.stringify(actual)} tshark ${JSON.stringify(expected)}`)
    }
  })
  await reader.close()
  assert.equal(index, out.length, 'tshark and we read the same number of packets')
  t.diagnostic(`${compared} packets from ${inputs.length} captures compared with tshark: ${JSON.stringify(tally)}`)
  assert.deepEqual(mismatches.slice(0, 20), [], `${mismatches.length} mismatches`)
  assert.ok(compared > 3000, `only ${compared} packets compared`)
})
