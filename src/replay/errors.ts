/**
 * Why a replay could not run: USAGE (a flag value or combination makes no sense), NO_INPUT (nothing readable to
 * replay), SINK (the interface or output file cannot be used). The command maps each code to an exit status.
 */
export type ReplayErrorCode = 'USAGE' | 'NO_INPUT' | 'SINK'

export class ReplayError extends Error {
  constructor(message: string, readonly code: ReplayErrorCode) {
    super(message)
    this.name = 'ReplayError'
  }
}
