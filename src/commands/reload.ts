import {RELOAD_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl reload`: patronictl's reload (flags and arguments in shared/ctl-specs.ts). */
export default class Reload extends ctlCommand(RELOAD_SPEC) {}
