import {PAUSE_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl pause`: patronictl's pause (flags and arguments in shared/ctl-specs.ts). */
export default class Pause extends ctlCommand(PAUSE_SPEC) {}
