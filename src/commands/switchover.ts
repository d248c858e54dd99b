import {SWITCHOVER_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl switchover`: patronictl's switchover (flags and arguments in shared/ctl-specs.ts). */
export default class Switchover extends ctlCommand(SWITCHOVER_SPEC) {}
