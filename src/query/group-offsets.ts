import {GROUP_BLOCK_BITS, GROUPS_PER_BLOCK} from '../index/layout.js'

/** Group numbers are below 2^32 (they are logged as 32-bit numbers), so blocks are found with integer operations. */
const IN_BLOCK = GROUPS_PER_BLOCK - 1

/**
 * Where a file's record groups start, for the groups a query visits: only the index blocks holding candidate groups
 * are read and decoded (a file has ~180 k groups per GB; a narrow query wants a few). A planner keeps one per file
 * across queries and adds the blocks each query needs.
 */
export class GroupOffsets {
  /** Decoded blocks by number: block b holds the offsets of groups b·GROUPS_PER_BLOCK … (b + 1)·GROUPS_PER_BLOCK. */
  readonly blocks = new Map<number, Float64Array>()
  private lastBlock = -1
  private last: Float64Array = new Float64Array(0)

  /** The blocks `groups` (ascending) need that are not decoded yet. */
  missing(groups: ArrayLike<number>): number[] {
    const out: number[] = []
    for (let i = 0; i < groups.length; i++) {
      const b = groups[i] >>> GROUP_BLOCK_BITS
      if (!this.blocks.has(b) && out[out.length - 1] !== b) out.push(b)
    }
    return out
  }

  /** Byte offset of the group's first record. */
  start(group: number): number {
    return this.block(group)[group & IN_BLOCK]
  }

  /** Where the group's records end: the next group's start, or the end of the last indexed record. */
  end(group: number): number {
    return this.block(group)[(group & IN_BLOCK) + 1]
  }

  private block(group: number): Float64Array {
    const b = group >>> GROUP_BLOCK_BITS
    if (b !== this.lastBlock) {
      const values = this.blocks.get(b)
      if (!values) throw new Error(`offsets of record group ${group} were not read from the index`)
      this.last = values
      this.lastBlock = b
    }
    return this.last
  }
}
