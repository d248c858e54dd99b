import {RESTART_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl restart`: patronictl's restart (flags and arguments in shared/ctl-specs.ts). */
export default class Restart extends ctlCommand(RESTART_SPEC) {}
