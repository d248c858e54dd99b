import {LIST_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl list`: patronictl's list (flags and arguments in shared/ctl-specs.ts). */
export default class List extends ctlCommand(LIST_SPEC) {}
