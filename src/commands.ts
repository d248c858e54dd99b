/**
 * Explicit command registry. The bundle hands this object to oclif directly (src/main.ts),
 * so no file system scan or require() of a path happens inside the single executable.
 * Register only commands that work end to end.
 */
import type {Command} from '@oclif/core'
import Agent from './commands/agent'
import Help from './commands/help'
import Vip from './commands/vip'

export const COMMANDS: Record<string, Command.Class> = {
  agent: Agent,
  help: Help,
  vip: Vip,
}
