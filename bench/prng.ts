/**
 * A small seeded PRNG (sfc32) for the benchmark dataset and the fuzzer: the same seed gives the same dataset and the
 * same fuzz cases on every machine and Node version, which Math.random cannot promise.
 */
export class Prng {
  private a: number
  private b: number
  private c: number
  private d: number

  /** Seeds from any number of 32-bit words (e.g. a run seed and a case number), so cases can be replayed alone. */
  constructor(...seed: number[]) {
    this.a = 0x9e3779b9
    this.b = 0x243f6a88
    this.c = 0xb7e15162
    this.d = 1
    for (const s of seed) {
      this.a ^= s >>> 0
      this.d = (this.d + 1) >>> 0
      // Stir after every seed word so that (1, 2) and (2, 1) give different streams.
      for (let i = 0; i < 12; i++) this.u32()
    }
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0
    this.d = (this.d + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return t
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.u32() / 4294967296
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n)
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]
  }
}
