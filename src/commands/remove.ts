import {REMOVE_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl remove`: patronictl's remove (flags and arguments in shared/ctl-specs.ts). */
export default class Remove extends ctlCommand(REMOVE_SPEC) {}
