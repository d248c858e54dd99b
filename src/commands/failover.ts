import {FAILOVER_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl failover`: patronictl's failover (flags and arguments in shared/ctl-specs.ts). */
export default class Failover extends ctlCommand(FAILOVER_SPEC) {}
