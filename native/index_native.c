/*
 * The per-packet half of building the field index (`map`): decode each record's headers into a flow key and file
 * the record under its flow in the file's flow table. src/dataset/flow-indexer.ts drives it and encodes the result.
 *
 * Why C: in JavaScript that work cost ~230 ns a packet even with nothing allocated (decode ~45, key ~20, the flow
 * table ~60 with its working set in L3, the reader's per-record fields ~30), which held the index build near
 * 300 MB/s per core against a target of 500. Here whole runs of classic-pcap records are taken from the reader's
 * buffer in one call, and a flow's key and figures share a row.
 *
 * The JavaScript decoder in src/decode/ stays the one that every exact per-packet check uses (query, filter). This
 * file mirrors its header walk for exactly the fields a flow key holds (key layout: src/index/flow-key.ts), and
 * test/native-index.test.ts holds the two equal on every packet of the shared captures and on random packets.
 *
 *   create() -> table
 *   addRun(table, bytes, pos, end, base, littleEndian, fractionScale, headerLength, linkType)
 *       the complete, ordinary classic-pcap records in bytes[pos, end) (the reader and the statistics have checked
 *       them: caplen within the snaplen, fraction below a second); `base` is the file offset of bytes[0]
 *   addRecord(table, buf, dataStart, caplen, linkType, origLen, sec, nsec, offset, recordLen)
 *       any other record (pcapng, records split by the buffer end); sec < 0: no timestamp
 *   finish(table) -> {count, keys, packets, bytes, firstSec, firstNsec, lastSec, lastNsec, groupStart, groups,
 *                     groupStarts}   (FlowColumns plus each record group's offset and the indexed end); the table's
 *                     memory is freed, and adding to it afterwards is an error
 */
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Flow key words (src/index/flow-key.ts W). */
#define KEY_WORDS 20
#define W_HEAD 0
#define W_PORTS 1
#define W_ETHERTYPE 2
#define W_SRC 3
#define W_DST 7
#define W_MAC_HI 11
#define W_MAC_SRC_LO 12
#define W_MAC_DST_LO 13
#define W_VLANS 14
#define W_MPLS 16
#define KEY_VLANS 4
#define KEY_MPLS 4
#define FLAG_PORTS 1
#define FLAG_MACS 2
#define FLAG_VLAN_DEEP 4
#define FLAG_MPLS_DEEP 8
#define KIND_OTHER 0
#define KIND_ARP 1
#define KIND_IPV4 4
#define KIND_IPV6 6
/* Records filed together by addRun. */
#define BATCH 16
/* Records per group (flow-key.ts GROUP_BITS). */
#define GROUP_BITS 3

/* Layers seen: only those the key depends on. */
#define L_MAC 1
#define L_VLAN 2
#define L_MPLS 4
#define L_ARP 8
#define L_IPV4 16
#define L_IPV6 32
#define L_PORTS 64

typedef struct {
  uint32_t layers, ether_type;
  uint32_t mac_src_hi, mac_src_lo, mac_dst_hi, mac_dst_lo;
  uint32_t vlan_count, vlans[KEY_VLANS];
  uint32_t mpls_count, labels[KEY_MPLS];
  uint32_t ip4_src, ip4_dst, ip6_src[4], ip6_dst[4], proto;
  uint32_t src_port, dst_port;
  uint32_t arp_sender, arp_target;
} packet_t;

static inline uint32_t be16(const uint8_t *b, size_t at) { return (uint32_t)b[at] << 8 | b[at + 1]; }
static inline uint32_t be32(const uint8_t *b, size_t at) {
  return (uint32_t)b[at] << 24 | (uint32_t)b[at + 1] << 16 | (uint32_t)b[at + 2] << 8 | b[at + 3];
}
static inline uint32_t le32(const uint8_t *b, size_t at) {
  return (uint32_t)b[at + 3] << 24 | (uint32_t)b[at + 2] << 16 | (uint32_t)b[at + 1] << 8 | b[at];
}

/* ---- decoding: src/decode/{link,ethertype,mpls,arp,ip,transport}.ts, step for step ---- */

static void decode_transport(const uint8_t *b, size_t off, size_t end, uint32_t proto, packet_t *f) {
  if (off >= end) return;
  if ((proto == 6 || proto == 17 || proto == 132) && off + 4 <= end) {
    f->src_port = be16(b, off);
    f->dst_port = be16(b, off + 2);
    f->layers |= L_PORTS;
  }
}

static void decode_ipv4(const uint8_t *b, size_t off, size_t end, packet_t *f) {
  if (off + 20 > end) return;
  uint32_t header_len = (b[off] & 0x0f) * 4;
  uint32_t frag_offset = (be16(b, off + 6) & 0x1fff) * 8;
  f->proto = b[off + 9];
  f->ip4_src = be32(b, off + 12);
  f->ip4_dst = be32(b, off + 16);
  f->layers |= L_IPV4;
  if (frag_offset == 0 && header_len >= 20) decode_transport(b, off + header_len, end, f->proto, f);
}

static void decode_ipv6(const uint8_t *b, size_t off, size_t end, packet_t *f) {
  if (off + 40 > end) return;
  for (int i = 0; i < 4; i++) {
    f->ip6_src[i] = be32(b, off + 8 + 4 * i);
    f->ip6_dst[i] = be32(b, off + 24 + 4 * i);
  }
  f->layers |= L_IPV6;
  uint32_t next = b[off + 6];
  size_t p = off + 40;
  for (;;) {
    f->proto = next;
    switch (next) {
      case 0: case 43: case 60: /* hop-by-hop, routing, destination options */
        if (p + 2 > end) return;
        next = b[p];
        p += ((size_t)b[p + 1] + 1) * 8;
        break;
      case 51: /* AH */
        if (p + 2 > end) return;
        next = b[p];
        p += ((size_t)b[p + 1] + 2) * 4;
        break;
      case 44: /* fragment: past offset 0 the payload's middle follows, not a header */
        if (p + 8 > end) return;
        next = b[p];
        if ((be16(b, p + 2) & 0xfff8) != 0) {
          f->proto = next;
          return;
        }
        p += 8;
        break;
      default:
        decode_transport(b, p, end, next, f);
        return;
    }
  }
}

static void decode_ip(uint32_t version, const uint8_t *b, size_t off, size_t end, packet_t *f) {
  if (version == 4) decode_ipv4(b, off, end, f);
  else if (version == 6) decode_ipv6(b, off, end, f);
}

static void decode_mpls(const uint8_t *b, size_t off, size_t end, packet_t *f) {
  for (;;) {
    if (off + 4 > end) return;
    uint32_t entry = be32(b, off);
    if (f->mpls_count < KEY_MPLS) f->labels[f->mpls_count] = entry >> 12;
    f->mpls_count++;
    f->layers |= L_MPLS;
    off += 4;
    if (entry & 0x100) break;
  }
  if (off < end) decode_ip(b[off] >> 4, b, off, end, f);
}

static void decode_arp(const uint8_t *b, size_t off, size_t end, packet_t *f) {
  if (off + 8 > end) return;
  size_t hardware_len = b[off + 4];
  if (b[off + 5] != 4) return;
  size_t sender = off + 8 + hardware_len;
  size_t target = sender + 4 + hardware_len;
  if (target + 4 > end) return;
  f->arp_sender = be32(b, sender);
  f->arp_target = be32(b, target);
  f->layers |= L_ARP;
}

static void decode_ethertype(const uint8_t *b, size_t off, size_t end, uint32_t type, packet_t *f) {
  while ((type == 0x8100 || type == 0x88a8 || type == 0x9100) && off + 4 <= end) {
    if (f->vlan_count < KEY_VLANS) f->vlans[f->vlan_count] = be16(b, off) & 0x0fff;
    f->vlan_count++;
    type = be16(b, off + 2);
    off += 4;
  }
  if (f->vlan_count > 0) f->layers |= L_VLAN;
  f->ether_type = type;
  switch (type) {
    case 0x0800: decode_ip(4, b, off, end, f); return;
    case 0x86dd: decode_ip(6, b, off, end, f); return;
    case 0x0806: case 0x8035: decode_arp(b, off, end, f); return;
    case 0x8847: case 0x8848: decode_mpls(b, off, end, f); return;
  }
}

static void read_mac(const uint8_t *b, size_t dst, size_t src, packet_t *f) {
  f->mac_dst_hi = be16(b, dst);
  f->mac_dst_lo = be32(b, dst + 2);
  f->mac_src_hi = be16(b, src);
  f->mac_src_lo = be32(b, src + 2);
  f->layers |= L_MAC;
}

static void read_macs(const uint8_t *b, size_t off, packet_t *f) { read_mac(b, off, off + 6, f); }

static inline uint32_t le16(const uint8_t *b, size_t at) { return (uint32_t)b[at + 1] << 8 | b[at]; }

/* 802.11: SA/DA by the DS bits; the LLC/SNAP payload of unprotected data frames that carry data. */
static void decode_wlan(const uint8_t *b, size_t off, size_t end, packet_t *f) {
  if (off + 24 > end) return;
  uint32_t fc0 = b[off], fc1 = b[off + 1], type = (fc0 >> 2) & 3;
  if (type == 0) {
    read_mac(b, off + 4, off + 10, f);
    return;
  }
  if (type != 2) return;
  uint32_t to_ds = fc1 & 1, from_ds = fc1 & 2;
  size_t header = 24;
  if (to_ds && from_ds) header += 6;
  if (off + header > end) return;
  read_mac(b, off + (to_ds ? 16 : 4), off + (from_ds ? (to_ds ? 24 : 16) : 10), f);
  uint32_t subtype = fc0 >> 4;
  if (subtype & 0x8) header += 2;
  if ((subtype & 0x4) || (fc1 & 0x40)) return;
  size_t llc = off + header;
  if (llc + 8 <= end && b[llc] == 0xaa && b[llc + 1] == 0xaa && b[llc + 2] == 0x03) {
    decode_ethertype(b, llc + 8, end, be16(b, llc + 6), f);
  }
}

/* NFLOG: the payload attribute (type 9) holds an IP packet of the header's family. */
static void decode_nflog(const uint8_t *b, size_t off, size_t end, packet_t *f) {
  if (off + 4 > end) return;
  uint32_t type = b[off] == 2 ? 0x0800 : b[off] == 10 ? 0x86dd : 0;
  for (size_t p = off + 4; p + 4 <= end;) {
    size_t length = le16(b, p);
    if (length < 4) return;
    if (le16(b, p + 2) == 9) {
      decode_ethertype(b, p + 4, p + length < end ? p + length : end, type, f);
      return;
    }
    p += (length + 3) & ~(size_t)3;
  }
}

static uint32_t family_to_ethertype(uint32_t family) {
  switch (family) {
    case 2: return 0x0800;
    case 24: case 28: case 30: return 0x86dd; /* AF_INET6 of NetBSD/OpenBSD, FreeBSD, macOS */
    default: return 0;
  }
}

static uint32_t ppp_to_ethertype(uint32_t protocol) {
  switch (protocol) {
    case 0x0021: return 0x0800;
    case 0x0057: return 0x86dd;
    case 0x0281: return 0x8847;
    case 0x0283: return 0x8848;
    default: return 0;
  }
}

static void decode_packet_ethernet(const uint8_t *b, size_t off, size_t end, packet_t *f) {
  if (off + 14 > end) return;
  read_macs(b, off, f);
  decode_ethertype(b, off + 14, end, be16(b, off + 12), f);
}

static void decode_packet(const uint8_t *b, size_t off, size_t end, uint32_t link_type, packet_t *f) {
  f->layers = 0;
  f->ether_type = 0;
  f->vlan_count = 0;
  f->mpls_count = 0;
  switch (link_type) {
    case 1: decode_packet_ethernet(b, off, end, f); return;
    case 10: { /* FDDI: frame control, MACs, then only SNAP-encapsulated payloads */
      if (off + 13 > end) return;
      read_macs(b, off + 1, f);
      size_t llc = off + 13;
      if (llc + 8 <= end && b[llc] == 0xaa && b[llc + 1] == 0xaa && b[llc + 2] == 0x03) {
        decode_ethertype(b, llc + 8, end, be16(b, llc + 6), f);
      }
      return;
    }
    case 113: /* Linux SLL */
      if (off + 16 > end) return;
      decode_ethertype(b, off + 16, end, be16(b, off + 14), f);
      return;
    case 276: /* Linux SLL2 */
      if (off + 20 > end) return;
      decode_ethertype(b, off + 20, end, be16(b, off), f);
      return;
    case 0: case 108: { /* BSD loopback, host byte order; OpenBSD loop, network order */
      if (off + 4 > end) return;
      uint32_t little = le32(b, off);
      decode_ethertype(b, off + 4, end, family_to_ethertype(little > 0xffff ? be32(b, off) : little), f);
      return;
    }
    case 101: case 12: case 14: { /* raw IP: the version nibble decides */
      if (off >= end) return;
      uint32_t version = b[off] >> 4;
      decode_ethertype(b, off, end, version == 4 ? 0x0800 : version == 6 ? 0x86dd : 0, f);
      return;
    }
    case 228: decode_ethertype(b, off, end, 0x0800, f); return;
    case 229: decode_ethertype(b, off, end, 0x86dd, f); return;
    case 9: case 50: { /* PPP, with or without FF 03, with or without protocol-field compression */
      size_t p = off;
      if (p + 2 <= end && be16(b, p) == 0xff03) p += 2;
      if (p >= end) return;
      uint32_t protocol;
      if (b[p] & 1) {
        protocol = b[p];
        p += 1;
      } else {
        if (p + 2 > end) return;
        protocol = be16(b, p);
        p += 2;
      }
      decode_ethertype(b, p, end, ppp_to_ethertype(protocol), f);
      return;
    }
    case 105: decode_wlan(b, off, end, f); return;
    case 127: /* radiotap: little-endian length, then 802.11 */
      if (off + 8 > end) return;
      decode_wlan(b, off + le16(b, off + 2), end, f);
      return;
    case 192: { /* PPI: little-endian length and the link type inside (802.11 or Ethernet) */
      if (off + 8 > end) return;
      size_t payload = off + le16(b, off + 2);
      uint32_t dlt = le32(b, off + 4);
      if (dlt == 105) decode_wlan(b, payload, end, f);
      else if (dlt == 1) decode_packet_ethernet(b, payload, end, f);
      return;
    }
    case 239: decode_nflog(b, off, end, f); return;
    case 104: /* Cisco HDLC */
      if (off + 4 > end) return;
      decode_ethertype(b, off + 4, end, be16(b, off + 2), f);
      return;
  }
}

/* flow-key.ts FlowKey: the words a packet's flow is known by. */
static void write_key(const packet_t *f, int32_t *w) {
  uint32_t L = f->layers, kind = KIND_OTHER, flags = 0;
  memset(w, 0, KEY_WORDS * sizeof *w);
  if (L & L_IPV4) {
    kind = KIND_IPV4;
    w[W_SRC] = (int32_t)f->ip4_src;
    w[W_DST] = (int32_t)f->ip4_dst;
  } else if (L & L_IPV6) {
    kind = KIND_IPV6;
    for (int i = 0; i < 4; i++) {
      w[W_SRC + i] = (int32_t)f->ip6_src[i];
      w[W_DST + i] = (int32_t)f->ip6_dst[i];
    }
  } else if (L & L_ARP) {
    kind = KIND_ARP;
    w[W_SRC] = (int32_t)f->arp_sender;
    w[W_DST] = (int32_t)f->arp_target;
  }
  uint32_t proto = L & (L_IPV4 | L_IPV6) ? f->proto : 0;
  if (L & L_PORTS) {
    flags |= FLAG_PORTS;
    w[W_PORTS] = (int32_t)(f->src_port << 16 | f->dst_port);
  }
  w[W_ETHERTYPE] = (int32_t)(f->ether_type & 0xffff);
  if (L & L_MAC) {
    flags |= FLAG_MACS;
    w[W_MAC_HI] = (int32_t)(f->mac_src_hi << 16 | f->mac_dst_hi);
    w[W_MAC_SRC_LO] = (int32_t)f->mac_src_lo;
    w[W_MAC_DST_LO] = (int32_t)f->mac_dst_lo;
  }
  uint32_t vlans = f->vlan_count > KEY_VLANS ? KEY_VLANS : f->vlan_count;
  if (f->vlan_count > KEY_VLANS) flags |= FLAG_VLAN_DEEP;
  if (vlans > 0) w[W_VLANS] = (int32_t)(f->vlans[0] << 16 | (vlans > 1 ? f->vlans[1] : 0));
  if (vlans > 2) w[W_VLANS + 1] = (int32_t)(f->vlans[2] << 16 | (vlans > 3 ? f->vlans[3] : 0));
  uint32_t labels = f->mpls_count > KEY_MPLS ? KEY_MPLS : f->mpls_count;
  if (f->mpls_count > KEY_MPLS) flags |= FLAG_MPLS_DEEP;
  for (uint32_t i = 0; i < labels; i++) w[W_MPLS + i] = (int32_t)f->labels[i];
  w[W_HEAD] = (int32_t)(kind | proto << 8 | flags << 16 | vlans << 24 | labels << 28);
}

/* ---- the flow table ---- */

/* A flow's key and figures in one row: a packet of a known flow touches one or two cache lines. */
typedef struct {
  int32_t key[KEY_WORDS];
  double packets, bytes, first_sec, first_nsec, last_sec, last_nsec;
  int64_t last_group;
} flow_t;

/* Open addressing; the hash is kept beside the id so that most probes never touch a row. */
typedef struct {
  uint32_t hash;
  int32_t id;
} slot_t;

typedef struct {
  flow_t *flows;
  size_t count, capacity;
  slot_t *slots;
  size_t slot_mask;
  /* One entry per (flow, record group) pair in file order; grouped by flow in finish(). */
  uint32_t *log_flow, *log_group;
  size_t log_count, log_capacity;
  /* Offset of each group's first record. */
  double *group_starts;
  size_t group_capacity;
  uint64_t records;
  double end;
  int failed; /* out of memory: reported by finish() */
  int finished; /* finish() was called: the table is gone */
} table_t;

static void *grow(void *p, size_t *capacity, size_t element, size_t at_least, int *failed) {
  size_t n = *capacity ? *capacity : 1024;
  while (n < at_least) n *= 2;
  void *q = realloc(p, n * element);
  if (!q) {
    *failed = 1;
    return p;
  }
  *capacity = n;
  return q;
}

static inline uint64_t word64(const int32_t *k, int i) {
  uint64_t w;
  memcpy(&w, k + 2 * i, sizeof w);
  return w;
}

/*
 * Hash of the words that tell flows apart in practice (head, ports, ethertype, addresses; MAC/VLAN/MPLS words still
 * take part in the comparison): independent multiplies, not a chain, so they overlap (a 20-step FNV-style chain was
 * half of this file's time per packet).
 */
static uint32_t hash_key(const int32_t *k) {
  uint64_t h = word64(k, 0) * 0x9e3779b97f4a7c15ull + word64(k, 1) * 0xc2b2ae3d27d4eb4full +
               word64(k, 2) * 0x165667b19e3779f9ull + word64(k, 3) * 0xd6e8feb86659fd93ull +
               word64(k, 4) * 0xff51afd7ed558ccdull + word64(k, 5) * 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return (uint32_t)(h >> 32);
}

static inline int same_key(const int32_t *a, const int32_t *b) {
  uint64_t d = 0;
  for (int i = 0; i < KEY_WORDS / 2; i++) d |= word64(a, i) ^ word64(b, i);
  return d == 0;
}

static int rehash(table_t *t, size_t slots) {
  slot_t *s = malloc(slots * sizeof *s);
  if (!s) return 0;
  for (size_t i = 0; i < slots; i++) s[i].id = -1;
  for (size_t id = 0; id < t->count; id++) {
    uint32_t h = hash_key(t->flows[id].key);
    size_t i = h & (slots - 1);
    while (s[i].id >= 0) i = (i + 1) & (slots - 1);
    s[i].hash = h;
    s[i].id = (int32_t)id;
  }
  free(t->slots);
  t->slots = s;
  t->slot_mask = slots - 1;
  return 1;
}

/* The flow of `key`, added if new; -1 when out of memory. */
static int64_t lookup(table_t *t, const int32_t *key, uint32_t h) {
  size_t i = h & t->slot_mask;
  for (;; i = (i + 1) & t->slot_mask) {
    slot_t *s = &t->slots[i];
    if (s->id < 0) break;
    if (s->hash == h && same_key(t->flows[s->id].key, key)) return s->id;
  }
  if (t->count == t->capacity) {
    t->flows = grow(t->flows, &t->capacity, sizeof(flow_t), t->count + 1, &t->failed);
    if (t->failed) return -1;
  }
  size_t id = t->count++;
  flow_t *f = &t->flows[id];
  memcpy(f->key, key, sizeof f->key);
  f->packets = f->bytes = f->first_nsec = f->last_nsec = 0;
  f->first_sec = f->last_sec = -1;
  f->last_group = -1;
  t->slots[i].hash = h;
  t->slots[i].id = (int32_t)id;
  if (t->count * 2 > t->slot_mask + 1 && !rehash(t, (t->slot_mask + 1) * 2)) {
    t->failed = 1;
    return -1;
  }
  return (int64_t)id;
}

/* A record on its way into the table: decoded and hashed; its slot and row are fetched meanwhile. */
typedef struct {
  int32_t key[KEY_WORDS];
  uint32_t hash;
  double orig_len, sec, nsec, offset, record_len;
} pending_t;

static void prepare(table_t *t, pending_t *r, const uint8_t *b, size_t data, size_t end, uint32_t link_type) {
  packet_t p;
  decode_packet(b, data, end, link_type, &p);
  write_key(&p, r->key);
  r->hash = hash_key(r->key);
  __builtin_prefetch(&t->slots[r->hash & t->slot_mask]);
}

/* Starts fetching the row of the flow in the record's first probed slot (a known flow, mostly). */
static void prefetch_row(const table_t *t, const pending_t *r) {
  int32_t id = t->slots[r->hash & t->slot_mask].id;
  if (id < 0) return;
  const char *row = (const char *)&t->flows[id];
  __builtin_prefetch(row);
  __builtin_prefetch(row + 64);
  __builtin_prefetch(row + sizeof(flow_t) - 1);
}

static void file_record(table_t *t, const pending_t *r) {
  if (t->failed) return;
  uint64_t n = t->records++;
  uint64_t group = n >> GROUP_BITS;
  t->end = r->offset + r->record_len;
  if ((n & ((1 << GROUP_BITS) - 1)) == 0) {
    if (group + 1 >= t->group_capacity) {
      t->group_starts = grow(t->group_starts, &t->group_capacity, sizeof(double), group + 2, &t->failed);
      if (t->failed) return;
    }
    t->group_starts[group] = r->offset;
  }
  int64_t id = lookup(t, r->key, r->hash);
  if (id < 0) return;
  flow_t *f = &t->flows[id];
  double sec = r->sec, nsec = r->nsec;
  f->packets++;
  f->bytes += r->orig_len;
  if (sec >= 0) {
    if (f->first_sec < 0 || sec < f->first_sec || (sec == f->first_sec && nsec < f->first_nsec)) {
      f->first_sec = sec;
      f->first_nsec = nsec;
    }
    if (sec > f->last_sec || (sec == f->last_sec && nsec > f->last_nsec)) {
      f->last_sec = sec;
      f->last_nsec = nsec;
    }
  }
  if ((int64_t)group == f->last_group) return;
  f->last_group = (int64_t)group;
  if (t->log_count == t->log_capacity) {
    size_t capacity = t->log_capacity;
    t->log_flow = grow(t->log_flow, &capacity, sizeof(uint32_t), t->log_count + 1, &t->failed);
    if (t->failed) return;
    capacity = t->log_capacity;
    t->log_group = grow(t->log_group, &capacity, sizeof(uint32_t), t->log_count + 1, &t->failed);
    if (t->failed) return;
    t->log_capacity = capacity;
  }
  t->log_flow[t->log_count] = (uint32_t)id;
  t->log_group[t->log_count++] = (uint32_t)group;
}

/* ---- N-API ---- */

/* What the table holds; finish() lets go of it at once (a busy file's table is 100+ MB that V8 does not see). */
static void release(table_t *t) {
  free(t->flows);
  free(t->slots);
  free(t->log_flow);
  free(t->log_group);
  free(t->group_starts);
  memset(t, 0, sizeof *t);
}

static void free_table(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  release(data);
  free(data);
}

static napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

/* The table in `value`; NULL if it is not one, or (unless `finished_ok`) if finish() has let go of it. */
static table_t *get_table(napi_env env, napi_value value, int finished_ok) {
  table_t *t = NULL;
  if (napi_get_value_external(env, value, (void **)&t) != napi_ok || t == NULL) return NULL;
  return t->finished && !finished_ok ? NULL : t;
}

/* The bytes of a Buffer or Uint8Array (its data pointer is already moved by its byteOffset). */
static int get_bytes(napi_env env, napi_value value, const uint8_t **data, size_t *length) {
  bool is;
  void *p = NULL;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, value, &type, length, &p, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    return 0;
  }
  *data = p;
  return 1;
}

static napi_value create(napi_env env, napi_callback_info info) {
  (void)info;
  table_t *t = calloc(1, sizeof *t);
  if (!t || !rehash(t, 2048)) {
    free(t);
    return fail(env, "index_native: out of memory");
  }
  napi_value out;
  if (napi_create_external(env, t, free_table, NULL, &out) != napi_ok) {
    free_table(env, t, NULL);
    return fail(env, "index_native: cannot wrap the flow table");
  }
  return out;
}

/* argv[from, from + count) as numbers; 0 when one is not a number. */
static int get_numbers(napi_env env, const napi_value *argv, size_t from, size_t count, double *out) {
  for (size_t i = 0; i < count; i++) {
    if (napi_get_value_double(env, argv[from + i], &out[i]) != napi_ok) return 0;
  }
  return 1;
}

/*
 * The arguments of addRun and addRecord: exactly `want` of them into argv, the first a live table (returned), the
 * second bytes (into *b, *length). NULL when they are not that.
 */
static table_t *table_and_bytes(napi_env env, napi_callback_info info, size_t want, napi_value *argv,
                                const uint8_t **b, size_t *length) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != want) return NULL;
  table_t *t = get_table(env, argv[0], 0);
  return t && get_bytes(env, argv[1], b, length) ? t : NULL;
}

static napi_value add_run(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  const uint8_t *b;
  size_t length;
  table_t *t = table_and_bytes(env, info, 9, argv, &b, &length);
  bool le;
  double at[3], n[3]; /* pos, end, base; fraction scale, header length, link type */
  if (!t || !get_numbers(env, argv, 2, 3, at) ||
      napi_get_value_bool(env, argv[5], &le) != napi_ok || !get_numbers(env, argv, 6, 3, n) || at[0] < 0 ||
      at[1] < at[0] || at[1] > (double)length || n[1] < 16) {
    return fail(env, "addRun(table, bytes, pos, end, base, littleEndian, fractionScale, headerLength, linkType): bad arguments");
  }
  uint32_t scale = (uint32_t)n[0], header_len = (uint32_t)n[1], link_type = (uint32_t)n[2];
  double base = at[2];
  /*
   * In batches: decode and hash BATCH records (their slots start loading), fetch the rows those slots point at, then
   * file them in order. A lookup waits on memory (the table of a busy file lives in L3); this overlaps the waits.
   */
  pending_t batch[BATCH];
  size_t p = (size_t)at[0], stop = (size_t)at[1];
  for (;;) {
    size_t n = 0;
    while (n < BATCH && stop - p >= header_len) {
      uint32_t caplen = le ? le32(b, p + 8) : be32(b, p + 8);
      if (stop - p - header_len < caplen) break; /* the caller passes whole records only; never read past them */
      pending_t *r = &batch[n++];
      size_t data = p + header_len;
      r->sec = le ? le32(b, p) : be32(b, p);
      r->nsec = (double)(le ? le32(b, p + 4) : be32(b, p + 4)) * scale;
      r->orig_len = le ? le32(b, p + 12) : be32(b, p + 12);
      r->offset = base + (double)p;
      r->record_len = (double)header_len + caplen;
      prepare(t, r, b, data, data + caplen, link_type);
      p = data + caplen;
    }
    if (n == 0) break;
    for (size_t i = 0; i < n; i++) prefetch_row(t, &batch[i]);
    for (size_t i = 0; i < n; i++) file_record(t, &batch[i]);
  }
  return NULL;
}

static napi_value add_record(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  const uint8_t *b;
  size_t length;
  table_t *t = table_and_bytes(env, info, 10, argv, &b, &length);
  double n[8]; /* dataStart, caplen, linkType, origLen, sec, nsec, offset, recordLen */
  if (!t || !get_numbers(env, argv, 2, 8, n) || n[0] < 0 || n[1] < 0 ||
      n[0] > (double)length) {
    return fail(env, "addRecord(table, buf, dataStart, caplen, linkType, origLen, sec, nsec, offset, recordLen): bad arguments");
  }
  size_t data_start = (size_t)n[0], caplen = (size_t)n[1];
  double orig_len = n[3], sec = n[4], nsec = n[5], offset = n[6], record_len = n[7];
  uint32_t link_type = (uint32_t)n[2];
  size_t end = data_start + caplen;
  if (end > length) end = length;
  pending_t r = {.orig_len = orig_len, .sec = sec, .nsec = nsec, .offset = offset, .record_len = record_len};
  prepare(t, &r, b, data_start, end, link_type);
  file_record(t, &r);
  return NULL;
}

/* A new typed array of `count` elements whose memory the caller fills through *data; NULL if it cannot be made. */
static napi_value new_typed(napi_env env, napi_typedarray_type type, size_t element, size_t count, void **data) {
  napi_value buffer, out;
  if (napi_create_arraybuffer(env, count * element, data, &buffer) != napi_ok) return NULL;
  if (napi_create_typedarray(env, type, count, buffer, 0, &out) != napi_ok) return NULL;
  return out;
}

/* One figure of every flow (the double at `field` in its row) as a Float64Array. */
static napi_value column(napi_env env, const table_t *t, size_t field) {
  double *values;
  napi_value out = new_typed(env, napi_float64_array, sizeof(double), t->count, (void **)&values);
  if (out) for (size_t id = 0; id < t->count; id++) values[id] = *(const double *)((const char *)&t->flows[id] + field);
  return out;
}

static int set(napi_env env, napi_value object, const char *name, napi_value value) {
  return value != NULL && napi_set_named_property(env, object, name, value) == napi_ok;
}

/* The flows as FlowColumns plus groupStarts, built straight into the typed arrays handed to JavaScript. */
static napi_value columns(napi_env env, table_t *t) {
  size_t n = t->count;
  size_t group_count = (size_t)((t->records + (1 << GROUP_BITS) - 1) >> GROUP_BITS);
  int32_t *keys;
  uint32_t *start, *groups;
  double *starts;
  napi_value out, count;
  napi_value keys_array = new_typed(env, napi_int32_array, sizeof(int32_t), n * KEY_WORDS, (void **)&keys);
  napi_value start_array = new_typed(env, napi_uint32_array, sizeof(uint32_t), n + 1, (void **)&start);
  napi_value groups_array = new_typed(env, napi_uint32_array, sizeof(uint32_t), t->log_count, (void **)&groups);
  napi_value starts_array = new_typed(env, napi_float64_array, sizeof(double), group_count + 1, (void **)&starts);
  if (!keys_array || !start_array || !groups_array || !starts_array) return NULL;
  for (size_t id = 0; id < n; id++) memcpy(keys + id * KEY_WORDS, t->flows[id].key, sizeof t->flows[id].key);
  /* Each flow's record groups: a counting sort over the log keeps file order within a flow. */
  memset(start, 0, (n + 1) * sizeof *start);
  for (size_t i = 0; i < t->log_count; i++) start[t->log_flow[i] + 1]++;
  for (size_t id = 0; id < n; id++) start[id + 1] += start[id];
  for (size_t i = 0; i < t->log_count; i++) groups[start[t->log_flow[i]]++] = t->log_group[i];
  for (size_t id = n; id > 0; id--) start[id] = start[id - 1]; /* the fill moved each start to the next */
  start[0] = 0;
  if (group_count > 0) memcpy(starts, t->group_starts, group_count * sizeof *starts);
  starts[group_count] = t->end;
  if (napi_create_object(env, &out) != napi_ok || napi_create_uint32(env, (uint32_t)n, &count) != napi_ok ||
      !set(env, out, "count", count) || !set(env, out, "keys", keys_array) ||
      !set(env, out, "packets", column(env, t, offsetof(flow_t, packets))) ||
      !set(env, out, "bytes", column(env, t, offsetof(flow_t, bytes))) ||
      !set(env, out, "firstSec", column(env, t, offsetof(flow_t, first_sec))) ||
      !set(env, out, "firstNsec", column(env, t, offsetof(flow_t, first_nsec))) ||
      !set(env, out, "lastSec", column(env, t, offsetof(flow_t, last_sec))) ||
      !set(env, out, "lastNsec", column(env, t, offsetof(flow_t, last_nsec))) ||
      !set(env, out, "groupStart", start_array) || !set(env, out, "groups", groups_array) ||
      !set(env, out, "groupStarts", starts_array)) {
    return NULL;
  }
  return out;
}

static napi_value finish(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  table_t *t = argc == 1 ? get_table(env, argv[0], 1) : NULL;
  if (!t) return fail(env, "finish(table): bad arguments");
  if (t->finished) return fail(env, "finish(table): the table was already finished");
  napi_value out = t->failed ? NULL : columns(env, t);
  int failed = t->failed;
  release(t);
  t->finished = 1;
  if (failed) return fail(env, "index_native: out of memory while building the flow table");
  if (!out) return fail(env, "index_native: out of memory while encoding the flow table");
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
    {"addRun", NULL, add_run, NULL, NULL, NULL, napi_default, NULL},
    {"addRecord", NULL, add_record, NULL, NULL, NULL, napi_default, NULL},
    {"finish", NULL, finish, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
