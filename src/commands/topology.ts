import {TOPOLOGY_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl topology`: patronictl's topology (flags and arguments in shared/ctl-specs.ts). */
export default class Topology extends ctlCommand(TOPOLOGY_SPEC) {}
