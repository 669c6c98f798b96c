/*
 * Sets of ids (candidate flows, record groups) as ascending typed arrays without repeats: unions and
 * intersections are merges over flat arrays, where JavaScript Sets of thousands of numbers cost more than the rest of
 * a query's planning.
 */

/** The numbers in any of the ascending lists, ascending, each once. */
export function unionSorted(lists: ArrayLike<number>[]): Float64Array {
  if (lists.length === 1 && lists[0] instanceof Float64Array) return lists[0]
  const all = new Float64Array(lists.reduce((n, l) => n + l.length, 0))
  let at = 0
  for (const l of lists) {
    all.set(l, at)
    at += l.length
  }
  all.sort()
  let n = 0
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) all[n++] = all[i]
  return all.subarray(0, n)
}

/** The numbers in both ascending lists. */
export function intersectSorted(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(Math.min(a.length, b.length))
  let n = 0
  for (let i = 0, j = 0; i < a.length && j < b.length;) {
    if (a[i] < b[j]) i++
    else if (a[i] > b[j]) j++
    else {
      out[n++] = a[i]
      i++
      j++
    }
  }
  return out.subarray(0, n)
}
