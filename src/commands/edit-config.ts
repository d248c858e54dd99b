import {EDIT_CONFIG_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl edit-config`: patronictl's edit-config (flags and arguments in shared/ctl-specs.ts). */
export default class EditConfig extends ctlCommand(EDIT_CONFIG_SPEC) {}
