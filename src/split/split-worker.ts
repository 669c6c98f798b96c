// Worker thread entry: splits one input per message (see WorkerPool and splitter.ts).
import {parentPort} from 'node:worker_threads'
import {splitInput, type SplitTask} from './splitter.js'
import type {WorkerReply} from '../dataset/worker-pool.js'

const port = parentPort!
port.on('message', async (task: SplitTask) => {
  let reply: WorkerReply<unknown>
  try {
    const result = await splitInput(task, (bytes) => port.postMessage({kind: 'progress', bytes}))
    reply = {kind: 'done', result}
  } catch (e) {
    reply = {kind: 'failed', message: (e as Error).message}
  }
  port.postMessage(reply)
})
