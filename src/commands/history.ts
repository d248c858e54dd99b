import {HISTORY_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl history`: patronictl's history (flags and arguments in shared/ctl-specs.ts). */
export default class History extends ctlCommand(HISTORY_SPEC) {}
