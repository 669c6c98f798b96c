/**
 * One status line on stderr, redrawn a few times a second. Drawn only when stderr is a terminal, so logs and
 * pipes never collect carriage returns.
 */
export class StatusLine {
  private timer: NodeJS.Timeout | null = null

  constructor(private readonly render: () => string, private readonly stream: NodeJS.WriteStream = process.stderr) {}

  start(): void {
    if (!this.stream.isTTY) return
    this.timer = setInterval(() => this.draw(), 200)
    this.timer.unref()
  }

  /** Prints a whole line (a warning) above the status line instead of through it. */
  print(line: string): void {
    if (this.timer !== null) this.stream.write('\r\u001B[K')
    this.stream.write(`${line}\n`)
  }

  stop(): void {
    if (this.timer === null) return
    clearInterval(this.timer)
    this.timer = null
    this.stream.write('\r\u001B[K')
  }

  private draw(): void {
    const width = (this.stream.columns || 80) - 1
    this.stream.write(`\r\u001B[K${this.render().slice(0, width)}`)
  }
}
