/**
 * How long the replayed part of the timeline lasts in capture time (first to last timestamp inside the window),
 * which --time-scale-duration stretches or squeezes to the asked duration. Files the metadata places wholly inside
 * the window are taken from it; the others are read (timestamps only) to find their records inside the window.
 */
import type {ReplaySource} from './sources.js'
import {isAtOrAfterEnd, isBefore, type TimeWindow} from './window.js'
import type {CaptureReader} from '../pcap/reader.js'
import {openCapture} from '../archive/member-reader.js'

export async function timelineSpanNs(sources: ReplaySource[], window: TimeWindow): Promise<number> {
  let firstSec = Infinity
  let firstNsec = 0
  let lastSec = -Infinity
  let lastNsec = 0
  const see = (sec: number, nsec: number): void => {
    if (sec < firstSec || (sec === firstSec && nsec < firstNsec)) [firstSec, firstNsec] = [sec, nsec]
    if (sec > lastSec || (sec === lastSec && nsec > lastNsec)) [lastSec, lastNsec] = [sec, nsec]
  }
  for (const s of sources) {
    const known = s.startSec !== -Infinity && s.endSec !== Infinity
    if (known && !isBefore(s.startSec, s.startNsec, window) && !isAtOrAfterEnd(s.endSec, s.endNsec, window)) {
      see(s.startSec, s.startNsec)
      see(s.endSec, s.endNsec)
      continue
    }
    let reader: CaptureReader | undefined
    try {
      reader = await openCapture(s.path)
      await reader.forEach((rec) => {
        if (rec.hasTs && !isBefore(rec.tsSec, rec.tsNsec, window) && !isAtOrAfterEnd(rec.tsSec, rec.tsNsec, window)) {
          see(rec.tsSec, rec.tsNsec)
        }
      })
    } catch {
      // An unreadable file adds nothing, a damaged one its records before the damage; the replay reports both.
    } finally {
      await reader?.close()
    }
  }
  return firstSec === Infinity ? 0 : (lastSec - firstSec) * 1e9 + (lastNsec - firstNsec)
}
