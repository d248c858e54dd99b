import {PROMOTE_CLUSTER_SPEC} from './shared/ctl-specs'
import {ctlCommand} from './shared/oclif-ctl'

/** `hactl promote-cluster`: patronictl 4.1's promote-cluster (flags and arguments in shared/ctl-specs.ts). */
export default class PromoteCluster extends ctlCommand(PROMOTE_CLUSTER_SPEC) {}
