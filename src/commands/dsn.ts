import {DSN_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl dsn`: patronictl's dsn (flags and arguments in shared/ctl-specs.ts). */
export default class Dsn extends ctlCommand(DSN_SPEC) {}
