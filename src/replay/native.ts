/** The replay addon (native/replay_native.c), or null where it is not built or not Linux: callers fall back. */
import {createRequire} from 'node:module'

export interface ReplayNative {
  /** A PF_PACKET socket bound to the interface, receiving nothing. */
  open(device: string): number
  /** Sends frames from..to-1 (lengths[i] bytes at arena[offsets[i]]) in one sendmmsg: how many went (> 0), or −errno. */
  send(fd: number, arena: Buffer, offsets: Uint32Array, lengths: Uint32Array, from: number, to: number): number
  close(fd: number): void
  /** Busy-waits `ms` on the monotonic clock, allocating nothing. */
  spinFor(ms: number): void
}

let loaded: ReplayNative | null | undefined

export function replayNative(): ReplayNative | null {
  if (loaded === undefined) {
    try {
      loaded = process.platform === 'linux'
        ? createRequire(import.meta.url)('../../native/build/Release/replay_native.node') as ReplayNative
        : null
    } catch {
      loaded = null
    }
  }
  return loaded
}
