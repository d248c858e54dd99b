/** The mixed-cluster slot cases (replication-slots-mixed.shared.ts) with Debian 12's Patroni 3.0.2 as the peer. */
import {mixedSlotTests} from './replication-slots-mixed.shared'

mixedSlotTests(3)
