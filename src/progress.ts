import type {MapProgress} from './dataset/mapper.js'

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1)
}

/** A progress bar on stderr (files, bytes, MB/s, ETA), shown only when stderr is a terminal. */
export async function terminalProgress(label: string): Promise<MapProgress | undefined> {
  if (!process.stderr.isTTY) return undefined
  // Loaded only for a terminal: scripts and pipes do not pay its start-up.
  const {default: cliProgress} = await import('cli-progress')
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${label} [{bar}] {percentage}% | {files}/{totalFiles} files | {doneMB}/{totalMB} MB | {rate} MB/s | ETA {eta_formatted}`,
    hideCursor: true,
    etaBuffer: 50,
    fps: 5,
  }, cliProgress.Presets.shades_classic)
  let files = 0
  let totalFiles = 0
  let done = 0
  let started = 0
  return {
    start(fileCount, bytes) {
      totalFiles = fileCount
      started = Date.now()
      bar.start(Math.max(bytes, 1), 0, {files: 0, totalFiles, doneMB: '0.0', totalMB: mb(bytes), rate: '0.0'})
    },
    advance(bytes, filesDone) {
      files += filesDone
      done += bytes
      const secs = Math.max((Date.now() - started) / 1000, 0.001)
      bar.update(done, {files, totalFiles, doneMB: mb(done), rate: mb(done / secs)})
    },
    stop() {
      bar.stop()
    },
  }
}
