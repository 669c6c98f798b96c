/** Link-layer header types (tcpdump.org/linktypes.html) the tools name; others are shown by number. */
export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  PPP: 9,
  FDDI: 10,
  RAW_OLD: 12, // OpenBSD DLT_RAW value some files carry
  RAW_OLD2: 14,
  PPP_HDLC: 50,
  PPP_ETHER: 51,
  RAW: 101,
  C_HDLC: 104,
  IEEE802_11: 105,
  LOOP: 108,
  LINUX_SLL: 113,
  IEEE802_11_RADIOTAP: 127,
  PPI: 192,
  IPV4: 228,
  IPV6: 229,
  NFLOG: 239,
  LINUX_SLL2: 276,
} as const

const NAMES: Record<number, string> = {
  0: 'NULL', 1: 'EN10MB', 6: 'IEEE802', 8: 'SLIP', 9: 'PPP', 10: 'FDDI', 12: 'RAW', 14: 'RAW', 50: 'PPP_HDLC',
  51: 'PPP_ETHER', 101: 'RAW', 104: 'C_HDLC', 105: 'IEEE802_11', 107: 'FRELAY', 108: 'LOOP', 113: 'LINUX_SLL',
  119: 'PRISM_HEADER', 127: 'IEEE802_11_RADIO', 143: 'DOCSIS', 163: 'IEEE802_11_RADIO_AVS', 192: 'PPI',
  195: 'IEEE802_15_4', 220: 'USB_LINUX_MMAPPED', 228: 'IPV4', 229: 'IPV6', 231: 'DBUS', 239: 'NFLOG',
  249: 'USBPCAP', 274: 'ETHERNET_MPACKET', 276: 'LINUX_SLL2',
}

export function linkTypeName(id: number): string {
  return NAMES[id] ?? `LINKTYPE_${id}`
}
