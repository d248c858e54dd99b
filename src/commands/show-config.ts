import {SHOW_CONFIG_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl show-config`: patronictl's show-config (flags and arguments in shared/ctl-specs.ts). */
export default class ShowConfig extends ctlCommand(SHOW_CONFIG_SPEC) {}
