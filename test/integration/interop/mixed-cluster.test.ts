/** The mixed-cluster cases (mixed-cluster.shared.ts) with Debian 12's Patroni 3.0.2 as the peer. */
import {mixedClusterTests} from './mixed-cluster.shared'

mixedClusterTests(3)
