/** The filter language's public surface: parse text to the AST, compile the AST to a per-packet predicate. */
export type * from './ast.js'
export {parseFilter, type ParseOptions} from './parser.js'
export {compileFilter, type PacketPredicate} from './compile.js'
export {FilterSyntaxError} from './errors.js'
