import {REINIT_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl reinit`: patronictl's reinit (flags and arguments in shared/ctl-specs.ts). */
export default class Reinit extends ctlCommand(REINIT_SPEC) {}
