import {RESUME_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl resume`: patronictl's resume (flags and arguments in shared/ctl-specs.ts). */
export default class Resume extends ctlCommand(RESUME_SPEC) {}
