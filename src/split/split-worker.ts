// Worker thread entry: splits one input per message (see WorkerPool and splitter.ts).
import {splitInput} from './splitter.js'
import {serveTasks} from '../dataset/worker-pool.js'

serveTasks(splitInput)
