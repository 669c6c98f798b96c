/*
 * Rules as each pass uses them: checked expressions compiled into bitmask functions. Kept apart from the rule-file
 * reader (rules.ts) so that worker threads, which get rules already checked, do not load the YAML parser (~50 ms of
 * every worker's start-up).
 */
import {parseFilter} from '../filter/parser.js'
import {MASK_BITS, compileMask, type PacketMask} from '../filter/compile.js'

export interface RuleSource {
  name: string
  /** The rule as one expression of our filter language. */
  expression: string
}

/**
 * Rules compiled for one pass: masks[g] tests rules g·MASK_BITS … g·MASK_BITS + 30, bit b standing for rule
 * g·MASK_BITS + b.
 */
export interface CompiledRules {
  names: string[]
  masks: PacketMask[]
}

/** Compiles checked rule sources (done again in each worker thread: functions do not cross). */
export function compileRules(sources: RuleSource[]): CompiledRules {
  const asts = sources.map((r) => parseFilter(r.expression))
  const masks: PacketMask[] = []
  for (let g = 0; g < asts.length; g += MASK_BITS) masks.push(compileMask(asts.slice(g, g + MASK_BITS)))
  return {names: sources.map((r) => r.name), masks}
}
