/**
 * The heart of a k-way merge by timestamp (replay's timeline, query's output): a binary min-heap of source numbers
 * keyed by their head record's time, ties going to the lower number so that equal timestamps come out in a stable,
 * documented order. Keys live in typed arrays indexed by source: pushing and popping allocate nothing.
 */
export class TimeOrderHeap {
  private readonly keySec: Float64Array
  private readonly keyNsec: Float64Array
  private readonly heap: Int32Array
  private size = 0

  constructor(sources: number) {
    this.keySec = new Float64Array(sources)
    this.keyNsec = new Float64Array(sources)
    this.heap = new Int32Array(sources)
  }

  get length(): number {
    return this.size
  }

  secOf(source: number): number {
    return this.keySec[source]
  }

  nsecOf(source: number): number {
    return this.keyNsec[source]
  }

  /** Puts `source` on the heap with the time of its head record (a source is on it at most once). */
  push(source: number, sec: number, nsec: number): void {
    this.keySec[source] = sec
    this.keyNsec[source] = nsec
    const h = this.heap
    let pos = this.size++
    while (pos > 0) {
      const parent = (pos - 1) >> 1
      if (!this.earlier(source, h[parent])) break
      h[pos] = h[parent]
      pos = parent
    }
    h[pos] = source
  }

  /** Takes the earliest source off the heap and returns it; -1 when empty. */
  pop(): number {
    if (this.size === 0) return -1
    const h = this.heap
    const first = h[0]
    const item = h[--this.size]
    let pos = 0
    for (;;) {
      let child = 2 * pos + 1
      if (child >= this.size) break
      if (child + 1 < this.size && this.earlier(h[child + 1], h[child])) child++
      if (!this.earlier(h[child], item)) break
      h[pos] = h[child]
      pos = child
    }
    h[pos] = item
    return first
  }

  /** Whether (sec, nsec) comes before the earliest head (or the heap is empty): a source starting then is due. */
  isBeforeTop(sec: number, nsec: number): boolean {
    if (this.size === 0) return true
    const top = this.heap[0]
    return sec < this.keySec[top] || (sec === this.keySec[top] && nsec <= this.keyNsec[top])
  }

  private earlier(a: number, b: number): boolean {
    const ks = this.keySec
    if (ks[a] !== ks[b]) return ks[a] < ks[b]
    const kn = this.keyNsec
    return kn[a] !== kn[b] ? kn[a] < kn[b] : a < b
  }
}
