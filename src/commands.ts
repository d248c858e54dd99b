/**
 * Explicit command registry. The bundle hands this object to oclif directly (src/main.ts),
 * so no file system scan or require() of a path happens inside the single executable.
 * Register only commands that work end to end.
 */
import type {Command} from '@oclif/core'
import Agent from './commands/agent'
import Dsn from './commands/dsn'
import HaproxyRender from './commands/haproxy/render'
import Help from './commands/help'
import History from './commands/history'
import List from './commands/list'
import ShowConfig from './commands/show-config'
import Topology from './commands/topology'
import Version from './commands/version'
import Vip from './commands/vip'

export const COMMANDS: Record<string, Command.Class> = {
  agent: Agent,
  dsn: Dsn,
  'haproxy:render': HaproxyRender,
  help: Help,
  history: History,
  list: List,
  'show-config': ShowConfig,
  topology: Topology,
  version: Version,
  vip: Vip,
}
