/**
 * A fixed-size log histogram of non-negative durations in nanoseconds, for percentiles without keeping samples:
 * recording is one Math.log2 and an array increment, never an allocation. 32 buckets per power of two give
 * percentiles within 2.2 % of the true value; the maximum is kept exactly.
 */
const STEPS_PER_OCTAVE = 32
/** Up to 2^46 ns (~19 hours); anything later lands in the last bucket. */
const OCTAVES = 46
const BUCKETS = OCTAVES * STEPS_PER_OCTAVE + 1

export class DurationHistogram {
  count = 0
  maxNs = 0
  private readonly counts = new Float64Array(BUCKETS)

  record(ns: number): void {
    // Bucket 0 holds everything below 1 ns (on time); bucket b ≥ 1 holds [2^((b−1)/32), 2^(b/32)).
    const b = ns < 1 ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log2(ns) * STEPS_PER_OCTAVE) + 1)
    this.counts[b]++
    this.count++
    if (ns > this.maxNs) this.maxNs = ns
  }

  /** The q-quantile (0..1) in ns: the upper edge of the bucket that holds it, so it never understates. */
  quantileNs(q: number): number {
    if (this.count === 0) return 0
    const rank = Math.ceil(q * this.count)
    let seen = 0
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts[b]
      if (seen >= rank) return b === 0 ? 0 : Math.min(this.maxNs, 2 ** (b / STEPS_PER_OCTAVE))
    }
    return this.maxNs
  }
}
