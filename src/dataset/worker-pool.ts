import {Worker, parentPort} from 'node:worker_threads'

/** Messages a worker posts: progress while a task runs, then exactly one result or error. */
export type WorkerReply<R> =
  | {kind: 'progress'; bytes: number}
  | {kind: 'done'; result: R}
  | {kind: 'failed'; message: string}

/** Runs one task in this thread, reporting progress: what a worker does with each message. */
export type TaskHandler<T, R> = (task: T, onProgress: (bytes: number) => void) => Promise<R>

/**
 * A fixed number of lanes fed from one queue, so two cores read two files at once. With `inline`, the first lane
 * runs in this thread (otherwise idle while it waits) and the others in worker threads running `script`, which
 * answer every task message with WorkerReply messages: one thread fewer to start for the same parallelism.
 */
export class WorkerPool<T, R> {
  private readonly workers: Worker[] = []

  constructor(private readonly script: URL, private readonly size: number, private readonly inline?: TaskHandler<T, R>) {}

  async run(tasks: T[], onResult: (task: T, result: R) => void, onProgress?: (task: T, bytes: number) => void): Promise<void> {
    let next = 0
    const count = Math.max(1, Math.min(this.size, tasks.length))
    const lanes: Promise<void>[] = []
    for (let i = 0; i < count; i++) {
      let runTask: (task: T) => Promise<R>
      const inline = this.inline
      if (i === 0 && inline) {
        runTask = (task) => inline(task, (bytes) => onProgress?.(task, bytes))
      } else {
        const worker = new Worker(this.script)
        this.workers.push(worker)
        runTask = (task) => this.runOne(worker, task, onProgress)
      }
      lanes.push((async () => {
        while (next < tasks.length) {
          const task = tasks[next++]
          onResult(task, await runTask(task))
        }
      })())
    }
    try {
      await Promise.all(lanes)
    } finally {
      await Promise.all(this.workers.map((w) => w.terminate()))
      this.workers.length = 0
    }
  }

  private runOne(worker: Worker, task: T, onProgress?: (task: T, bytes: number) => void): Promise<R> {
    return new Promise((resolve, reject) => {
      const onMessage = (msg: WorkerReply<R>): void => {
        if (msg.kind === 'progress') {
          onProgress?.(task, msg.bytes)
          return
        }
        worker.off('message', onMessage)
        worker.off('error', onError)
        if (msg.kind === 'done') resolve(msg.result)
        else reject(new Error(msg.message))
      }
      const onError = (e: Error): void => {
        worker.off('message', onMessage)
        reject(e)
      }
      worker.on('message', onMessage)
      worker.once('error', onError)
      worker.postMessage(task)
    })
  }
}

/** The worker script path next to `moduleUrl`, as .ts under tsx (tests) and .js when built. */
export function siblingScript(moduleUrl: string, name: string): URL {
  return new URL(`./${name}${moduleUrl.endsWith('.ts') ? '.ts' : '.js'}`, moduleUrl)
}

/**
 * The worker side of WorkerPool: answers each task message with progress messages and one result or error.
 * Call once from a worker thread's entry module.
 */
export function serveTasks<T, R>(handle: TaskHandler<T, R>): void {
  const port = parentPort!
  port.on('message', async (task: T) => {
    let reply: WorkerReply<R>
    try {
      reply = {kind: 'done', result: await handle(task, (bytes) => port.postMessage({kind: 'progress', bytes}))}
    } catch (e) {
      reply = {kind: 'failed', message: (e as Error).message}
    }
    port.postMessage(reply)
  })
}
