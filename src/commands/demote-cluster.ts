import {DEMOTE_CLUSTER_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl demote-cluster`: patronictl 4.1's demote-cluster (flags and arguments in shared/ctl-specs.ts). */
export default class DemoteCluster extends ctlCommand(DEMOTE_CLUSTER_SPEC) {}
