import {Worker, parentPort} from 'node:worker_threads'

/** What a worker gets once: every task, and the shared counter from which all lanes claim the next one. */
interface WorkerStart<T> {
  tasks: T[]
  next: SharedArrayBuffer
}

/** Messages a worker posts: progress and one result or error per task it claimed, then idle when none is left. */
type WorkerReply<R> =
  | {kind: 'progress'; task: number; bytes: number}
  | {kind: 'done'; task: number; result: R}
  | {kind: 'failed'; task: number; message: string}
  | {kind: 'idle'}

/** Runs one task in this thread, reporting progress: what a worker does with each task it claims. */
export type TaskHandler<T, R> = (task: T, onProgress: (bytes: number) => void) => Promise<R>

/**
 * A fixed number of lanes over one list of tasks, so two cores read two files at once. With `inline`, the first
 * lane runs in this thread (otherwise idle while it waits) and the others in worker threads running `script`
 * (which calls serveTasks): one thread fewer to start for the same parallelism.
 *
 * Lanes claim tasks from a shared atomic counter rather than being handed them: this thread, busy in its own lane
 * for a whole file, handles worker messages only between files, and a worker waiting for it to hand out the next
 * task would sit idle meanwhile (it halved the second core's use). Results and progress are delivered as this
 * thread gets to them.
 */
export class WorkerPool<T, R> {
  constructor(private readonly script: URL, private readonly size: number, private readonly inline?: TaskHandler<T, R>) {}

  async run(tasks: T[], onResult: (task: T, result: R) => void, onProgress?: (task: T, bytes: number) => void): Promise<void> {
    const next = new Int32Array(new SharedArrayBuffer(4))
    const count = Math.max(1, Math.min(this.size, tasks.length))
    const workers: Worker[] = []
    const lanes: Promise<void>[] = []
    const inline = this.inline
    // Workers first: they take tens of milliseconds to start, while this thread's lane can begin at once.
    for (let i = inline ? 1 : 0; i < count; i++) {
      const worker = new Worker(this.script)
      workers.push(worker)
      lanes.push(this.workerLane(worker, {tasks, next: next.buffer as SharedArrayBuffer}, onResult, onProgress))
    }
    if (inline) {
      lanes.push((async () => {
        for (let t = Atomics.add(next, 0, 1); t < tasks.length; t = Atomics.add(next, 0, 1)) {
          const task = tasks[t]
          onResult(task, await inline(task, (bytes) => onProgress?.(task, bytes)))
        }
      })())
    }
    try {
      await Promise.all(lanes)
    } finally {
      await Promise.all(workers.map((w) => w.terminate()))
    }
  }

  /** Settles when the worker has no task left to claim, or with the first task it failed. */
  private workerLane(worker: Worker, start: WorkerStart<T>, onResult: (task: T, result: R) => void,
    onProgress?: (task: T, bytes: number) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const onMessage = (msg: WorkerReply<R>): void => {
        if (msg.kind === 'progress') onProgress?.(start.tasks[msg.task], msg.bytes)
        else if (msg.kind === 'done') onResult(start.tasks[msg.task], msg.result)
        else finish(msg.kind === 'idle' ? undefined : new Error(msg.message))
      }
      const finish = (error?: Error): void => {
        worker.off('message', onMessage)
        worker.off('error', finish)
        if (error) reject(error)
        else resolve()
      }
      worker.on('message', onMessage)
      worker.once('error', finish)
      worker.postMessage(start)
    })
  }
}

/** The worker script path next to `moduleUrl`, as .ts under tsx (tests) and .js when built. */
export function siblingScript(moduleUrl: string, name: string): URL {
  return new URL(`./${name}${moduleUrl.endsWith('.ts') ? '.ts' : '.js'}`, moduleUrl)
}

/**
 * The worker side of WorkerPool: claims tasks until none is left, answering each with progress messages and one
 * result or error. Call once from a worker thread's entry module.
 */
export function serveTasks<T, R>(handle: TaskHandler<T, R>): void {
  const port = parentPort!
  port.once('message', async ({tasks, next}: WorkerStart<T>) => {
    const counter = new Int32Array(next)
    for (let t = Atomics.add(counter, 0, 1); t < tasks.length; t = Atomics.add(counter, 0, 1)) {
      let reply: WorkerReply<R>
      try {
        reply = {kind: 'done', task: t, result: await handle(tasks[t], (bytes) => port.postMessage({kind: 'progress', task: t, bytes}))}
      } catch (e) {
        port.postMessage({kind: 'failed', task: t, message: (e as Error).message})
        return
      }
      port.postMessage(reply)
    }
    port.postMessage({kind: 'idle'})
  })
}
