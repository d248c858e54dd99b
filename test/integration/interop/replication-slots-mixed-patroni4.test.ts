/** The mixed-cluster slot cases (replication-slots-mixed.shared.ts) with Debian 13's Patroni 4.0.x as the peer. */
import {mixedSlotTests} from './replication-slots-mixed.shared'

mixedSlotTests(4)
