// Worker thread entry: maps one capture (or one tarball's captures) per message (see WorkerPool).
import {mapCapture} from './map-file.js'
import {serveTasks} from './worker-pool.js'

serveTasks(mapCapture)
