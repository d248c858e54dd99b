import {FLUSH_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl flush`: patronictl's flush (flags and arguments in shared/ctl-specs.ts). */
export default class Flush extends ctlCommand(FLUSH_SPEC) {}
