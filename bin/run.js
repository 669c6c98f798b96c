#!/usr/bin/env node
// Subpath imports: @oclif/core's index loads every part of oclif and semver (for a Node version check) on each
// start, ~25 ms of a command that may take 0.2 s in all. Commands import from subpaths for the same reason.
import {execute} from '@oclif/core/execute'

await execute({dir: import.meta.url})
