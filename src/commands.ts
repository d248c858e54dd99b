/**
 * Explicit command registry. The bundle hands this object to oclif directly (src/main.ts),
 * so no file system scan or require() of a path happens inside the single executable.
 * Register only commands that work end to end.
 */
import type {Command} from '@oclif/core'
import Agent from './commands/agent'
import CreateConfig from './commands/createconfig'
import DemoteCluster from './commands/demote-cluster'
import Dsn from './commands/dsn'
import EditConfig from './commands/edit-config'
import Failover from './commands/failover'
import Flush from './commands/flush'
import HaproxyRender from './commands/haproxy/render'
import Help from './commands/help'
import History from './commands/history'
import List from './commands/list'
import Pause from './commands/pause'
import PromoteCluster from './commands/promote-cluster'
import Query from './commands/query'
import Reinit from './commands/reinit'
import Reload from './commands/reload'
import Remove from './commands/remove'
import Restart from './commands/restart'
import Resume from './commands/resume'
import ShowConfig from './commands/show-config'
import Switchover from './commands/switchover'
import Topology from './commands/topology'
import Version from './commands/version'
import Vip from './commands/vip'

export const COMMANDS: Record<string, Command.Class> = {
  agent: Agent,
  createconfig: CreateConfig,
  'demote-cluster': DemoteCluster,
  dsn: Dsn,
  'edit-config': EditConfig,
  failover: Failover,
  flush: Flush,
  'haproxy:render': HaproxyRender,
  help: Help,
  history: History,
  list: List,
  pause: Pause,
  'promote-cluster': PromoteCluster,
  query: Query,
  reinit: Reinit,
  reload: Reload,
  remove: Remove,
  restart: Restart,
  resume: Resume,
  'show-config': ShowConfig,
  switchover: Switchover,
  topology: Topology,
  version: Version,
  vip: Vip,
}
