/*
 * Waiting primitives for the replay loop, all on the performance.now() clock (monotonic, sub-µs). Node 20's
 * performance.now() allocates a number per call: fine once per packet, not in a spin loop (see spinUntil).
 */
import {setTimeout as sleepMs} from 'node:timers/promises'
import {replayNative} from './native.js'

export const nowMs = (): number => performance.now()

/** Timers can fire late by the event loop's delay; this much of a long wait is left to the precise wait. */
const TIMER_MARGIN_MS = 10
/** Below this, waiting on the event loop (which can fire ms late) is not worth it: block the thread instead. */
const TIMER_MIN_MS = 50
/**
 * A futex wait overshoots by the kernel's timer slack (50 µs) plus the wake-up latency, which reaches
 * milliseconds once other work (the capturing sensor, softirqs) shares the CPU; the last stretch is spun. On the
 * bench, a 0.25 ms margin gave a p99 gap error of ~240 µs, 2 ms gave ~35 µs, at the price of a spinning CPU.
 */
const FUTEX_MARGIN_MS = 2

const futex = new Int32Array(new SharedArrayBuffer(4))

/**
 * Blocks the thread until `dueMs` without allocating: a futex wait (Atomics.wait) for most of it, then a spin on
 * the clock for the last stretch, because neither ms-grained timers nor a woken thread can place sub-ms gaps.
 */
export function blockUntil(dueMs: number): void {
  const left = dueMs - performance.now()
  if (left > FUTEX_MARGIN_MS) Atomics.wait(futex, 0, 0, left - FUTEX_MARGIN_MS)
  spinUntil(dueMs)
}

const native = replayNative()

/**
 * Spins until `dueMs`. A JavaScript loop on performance.now() allocates ~50 bytes per turn, millions of turns per
 * second: a scavenge every few ms, each making the packets due meanwhile ~0.3 ms late (p99 lateness ~170 µs at
 * 1x). The addon's spin allocates nothing; the loop is the fallback where it is not built.
 */
function spinUntil(dueMs: number): void {
  if (native) {
    const left = dueMs - performance.now()
    if (left > 0) native.spinFor(left)
    return
  }
  while (performance.now() < dueMs) {
    // spin: the last stretch
  }
}

const ignore = (): void => {}

/**
 * Waits until `dueMs`. Returns undefined when it was reached without yielding (the common case: no promise per
 * packet), or a promise when the wait was long enough to give the event loop a turn (signals, I/O). Aborting
 * `signal` ends a long wait early (a capture may hold hours of silence), so callers check it after awaiting.
 */
export function waitUntil(dueMs: number, signal?: AbortSignal): Promise<void> | undefined {
  const left = dueMs - performance.now()
  if (left <= 0) return undefined
  if (left < TIMER_MIN_MS) {
    blockUntil(dueMs)
    return undefined
  }
  return sleepMs(left - TIMER_MARGIN_MS, undefined, {signal}).then(() => blockUntil(dueMs), ignore)
}
