/* What the benchmark scripts share: where things are, running a command quietly, the dataset's description. */
import {spawn} from 'node:child_process'
import {closeSync, openSync, readFileSync, statSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

export const HERE = dirname(fileURLToPath(import.meta.url))
export const ROOT = resolve(HERE, '..')
export const CLI = join(ROOT, 'bin/run.js')
export const DATASET = join(HERE, 'data/dataset')

/** Runs a command to completion (stdout discarded); rejects with its stderr when it fails. */
export function run(cmd, args) {
  return new Promise((resolvePromise, reject) => {
    const devNull = openSync('/dev/null', 'w')
    const child = spawn(cmd, args, {stdio: ['ignore', devNull, 'pipe']})
    closeSync(devNull)
    let stderr = ''
    child.stderr.on('data', (d) => { stderr += d })
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${cmd} ${args.slice(0, 4).join(' ')}… exited ${code}: ${stderr.slice(0, 2000)}`))))
  })
}

/** The dataset's files, packets and bytes, from the marker bench/make-dataset.ts writes when it is complete. */
export function describeDataset(marker = join(DATASET, 'COMPLETE.json')) {
  const summary = JSON.parse(readFileSync(marker, 'utf8'))
  const files = summary.files.map((f) => join(DATASET, f.path))
  return {files, packets: summary.packets, bytes: files.reduce((a, f) => a + statSync(f).size, 0)}
}
