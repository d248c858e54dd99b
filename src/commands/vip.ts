import {Command, Flags, type Interfaces} from '@oclif/core'
import {envName, KEY_HELP, VIP_KEYS, type VipKey} from '../vip/config'

// No defaults and no `env` here: precedence (flag > VIP_* env > file > default) and the legacy
// names are resolved in src/vip/config.ts, which must see which flags were actually given.
const flags = Object.fromEntries(
  VIP_KEYS.map((k) => [
    k,
    k === 'verbose' || k === 'keep-on-term'
      ? Flags.boolean({description: `${KEY_HELP[k]} [${envName(k)}]`, allowNo: true})
      : Flags.string({description: `${KEY_HELP[k]} [${envName(k)}]`, helpValue: k === 'config' ? 'FILE' : undefined}),
  ]),
) as Interfaces.FlagInput

export default class Vip extends Command {
  static override summary = 'Keep the cluster\'s virtual IP on the leader (vip-manager compatible).'
  static override description = [
    `Runs on every database node. Reads the leader key from etcd (v3) or polls the local agent's REST API, and adds the address with \`ip addr add\` on the leader only (plus gratuitous ARP), removing it everywhere else. Every vip-manager setting works as a flag, as a VIP_* environment variable and in --config (YAML, JSON, or KEY=VALUE like /etc/patroni/15-main.vip); vip-manager 1.x and 0.x names are accepted with a deprecation notice.`,
    `SIGINT and SIGTERM release the address before exiting (set keep-on-term for vip-manager's keep-on-SIGTERM behaviour). Invoked as \`vip-manager\`, the executable behaves as \`hactl vip\`.`,
  ].join('\n\n')
  static override examples = [
    '<%= config.bin %> vip --config /etc/patroni/15-main.vip',
    '<%= config.bin %> vip --ip 10.0.2.123 --netmask 24 --interface eth0 --trigger-key /service/main/leader --trigger-value node1 --dcs-endpoints http://10.0.0.1:2379',
    'VIP_CONFIG=/etc/default/vip-manager.yml <%= config.bin %> vip',
  ]
  static override flags = flags

  async run(): Promise<void> {
    const {flags: parsed} = await this.parse(Vip)
    const {runVip} = await import('../wiring/vip')
    process.exitCode = await runVip({
      flags: parsed as Partial<Record<VipKey, string | boolean>>,
      env: process.env,
      io: {out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s)},
    })
  }
}
