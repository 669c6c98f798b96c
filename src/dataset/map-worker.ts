// Worker thread entry: maps one capture (or one tarball's captures) per message (see WorkerPool).
import {parentPort} from 'node:worker_threads'
import {mapCapture, type MapTask} from './map-file.js'
import type {WorkerReply} from './worker-pool.js'

const port = parentPort!
port.on('message', async (task: MapTask) => {
  let reply: WorkerReply<unknown>
  try {
    const result = await mapCapture(task, (bytes) => port.postMessage({kind: 'progress', bytes}))
    reply = {kind: 'done', result}
  } catch (e) {
    reply = {kind: 'failed', message: (e as Error).message}
  }
  port.postMessage(reply)
})
