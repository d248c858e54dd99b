import {VERSION_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl version`: patronictl's version (flags and arguments in shared/ctl-specs.ts). */
export default class Version extends ctlCommand(VERSION_SPEC) {}
