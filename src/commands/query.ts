import {QUERY_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl query`: patronictl's query (flags and arguments in shared/ctl-specs.ts). */
export default class Query extends ctlCommand(QUERY_SPEC) {}
