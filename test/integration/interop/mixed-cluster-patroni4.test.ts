/** The mixed-cluster cases (mixed-cluster.shared.ts) with Debian 13's Patroni 4.0.x as the peer. */
import {mixedClusterTests} from './mixed-cluster.shared'

mixedClusterTests(4)
