/*
 * `pcapkit filter` end to end: discover the inputs, give each a distinct output base name, split them (one worker
 * lane per input at a time, the first lane in this thread) and sum the counts into the final report.
 */
import {discoverCaptures} from '../dataset/discover.js'
import {siblingScript, WorkerPool} from '../dataset/worker-pool.js'
import type {MapProgress} from '../dataset/mapper.js'
import {addCounts, captureBaseName, emptyCounts, splitInput, type SplitCounts, type SplitOptions, type SplitTask} from './splitter.js'

export interface FilterRun {
  inputs: string[]
  workers: number
  options: SplitOptions
  progress?: MapProgress
}

/** Splits every input; inputs that cannot be found are reported in `problems`, never thrown. */
export async function runFilter(run: FilterRun): Promise<SplitCounts> {
  const total = emptyCounts(run.options.rules.map((r) => r.name))
  const {files, problems} = await discoverCaptures(run.inputs)
  total.problems.push(...problems)
  // Two inputs with one base name (a/x.pcap, b/x.pcap) would overwrite each other's outputs: number the later ones.
  const used = new Set<string>()
  const named = files.map((f) => {
    let baseName = captureBaseName(f.path)
    for (let n = 2; used.has(baseName); n++) baseName = `${captureBaseName(f.path)}-${n}`
    used.add(baseName)
    return {size: f.size, task: {path: f.path, tarball: f.tarball, baseName, options: run.options}}
  })
  // Largest inputs first (names were given in discovery order), so no lane is left splitting a big file alone at
  // the end: on the bench dataset the last files were the largest, and one core idled for most of a file.
  const tasks: SplitTask[] = named.sort((a, b) => b.size - a.size).map((n) => n.task)
  run.progress?.start(files.length, files.reduce((n, f) => n + f.size, 0))
  try {
    if (run.workers <= 1 || tasks.length <= 1) {
      for (const task of tasks) {
        addCounts(total, await splitInput(task, (bytes) => run.progress?.advance(bytes, 0)))
        run.progress?.advance(0, 1)
      }
    } else {
      // The first lane runs in this thread (idle otherwise): one worker thread fewer to start.
      const pool = new WorkerPool<SplitTask, SplitCounts>(siblingScript(import.meta.url, 'split-worker'), run.workers, splitInput)
      await pool.run(tasks, (_task, counts) => {
        addCounts(total, counts)
        run.progress?.advance(0, 1)
      }, (_task, bytes) => run.progress?.advance(bytes, 0))
    }
  } finally {
    run.progress?.stop()
  }
  return total
}
