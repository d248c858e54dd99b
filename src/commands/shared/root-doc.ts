/**
 * What `hactl --help` and hactl(1) say beyond the command list: the global options (patronictl's
 * group options, from GLOBAL_FLAGS) and the environment variables hactl reads.
 */
import {GLOBAL_FLAGS, type FlagSpec} from './ctl-specs'

export interface OptionDoc {
  /** `-c, --config-file=FILE` */
  label: string
  description: string
  env?: string
}

function label(name: string, f: FlagSpec): string {
  const long = `--${name}${f.kind === 'boolean' ? '' : `=${f.helpValue ?? 'VALUE'}`}`
  return f.char === undefined ? long : `-${f.char}, ${long}`
}

/** The options every patronictl-compatible command (and haproxy render) takes, before or after the command name. */
export const GLOBAL_OPTIONS: readonly OptionDoc[] = [
  ...Object.entries(GLOBAL_FLAGS).map(([name, f]): OptionDoc => ({label: label(name, f), description: f.description, env: 'env' in f ? f.env : undefined})),
  {label: '--help', description: 'Show the help of hactl or of a command (hactl COMMAND --help, hactl help COMMAND)'},
  {label: '-v, --version', description: 'Print the version of hactl, its commit and the Node.js inside'},
]

export const ENVIRONMENT: readonly {name: string; description: string}[] = [
  {name: 'PATRONICTL_CONFIG_FILE', description: 'Configuration file of the control commands when -c is not given.'},
  {name: 'XDG_CONFIG_HOME', description: 'Without -c and PATRONICTL_CONFIG_FILE, the control commands read $XDG_CONFIG_HOME/patroni/patronictl.yaml (default ~/.config/patroni/patronictl.yaml) when it exists.'},
  {name: 'DCS_URL', description: 'The DCS connect url when -d is not given.'},
  {name: 'PATRONI_CONFIGURATION, PATRONI_*', description: "hactl agent: the whole configuration as YAML, or single settings over the file's, as Patroni reads them."},
  {name: 'VIP_*', description: 'hactl vip: every vip-manager setting (VIP_IP, VIP_INTERFACE, VIP_CONFIG, ...).'},
  {name: 'HACTL_HAPROXY_CHECK_AUTH', description: 'hactl haproxy render: user:password for the health checks (--check-auth).'},
  {name: 'EDITOR', description: 'Editor of hactl edit-config (default: editor, else vi).'},
  {name: 'HACTL_PROMPT_TIMEOUT', description: 'Seconds a question waits for an answer on a stdin that is not a terminal (default 60, 0 for ever).'},
  {name: 'JOURNAL_STREAM', description: "Set by systemd when the output goes to the journal: log lines then start with their syslog priority (<3> error ... <7> debug)."},
]
