import {Args, Command, Flags} from '@oclif/core'

export default class CreateConfig extends Command {
  static override summary = 'Write the Patroni/hactl configuration of a Debian cluster (pg_createconfig_patroni).'
  static override description = [
    `Writes /etc/patroni/VERSION-CLUSTER.yml exactly as Debian's pg_createconfig_patroni does, for hosts with or without the patroni package: scope VERSION-CLUSTER in namespace /postgresql-common/, the DCS section from /etc/patroni/dcs.yml, Debian's directory layout (data in /var/lib/postgresql/VERSION/CLUSTER, configuration in /etc/postgresql/VERSION/CLUSTER), bootstrap through pg_createcluster and replicas through pg_clonecluster, the REST API on 8008 + (port - 5432).`,
    `The template is /etc/patroni/config.yml.in when it exists, otherwise hactl's built-in copy of it. The port is --port, else the cluster's existing port (pg_lsclusters), else one above the highest port in use, else 5432. With no dcs.yml (no patroni package), --endpoint names the etcd endpoints and an etcd3 section is written. --vip also writes VERSION-CLUSTER.vip for hactl vip (vip-manager).`,
    `Then: hactl agent /etc/patroni/VERSION-CLUSTER.yml (or systemctl start hactl@VERSION-CLUSTER).`,
  ].join('\n\n')
  static override examples = [
    '<%= config.bin %> createconfig 15 main',
    '<%= config.bin %> createconfig --hostip=10.0.0.5 --network=10.0.0.0/24 --port=5433 15 main',
    '<%= config.bin %> createconfig --endpoint=http://10.0.0.1:2379,http://10.0.0.2:2379 --vip=10.0.0.100 15 main',
  ]

  static override args = {
    version: Args.string({description: 'PostgreSQL major version (15)', required: true}),
    cluster: Args.string({description: 'cluster name (main)', required: true}),
  }

  static override flags = {
    hostip: Flags.string({description: 'this host\'s address for the REST API and PostgreSQL (default: the source address of the default route)', helpValue: 'ADDRESS'}),
    network: Flags.string({description: 'network allowed to replicate, in pg_hba (default: ADDRESS/PREFIX of that interface)', helpValue: 'CIDR'}),
    port: Flags.integer({description: 'PostgreSQL port (default: the cluster\'s, or the next free one, or 5432)', min: 1, max: 65535}),
    force: Flags.boolean({description: 'replace an existing configuration (and VIP) file'}),
    vip: Flags.string({description: 'also write VERSION-CLUSTER.vip for this virtual IP', helpValue: 'ADDRESS'}),
    endpoint: Flags.string({description: 'etcd endpoints, http://HOST:PORT[,...]: for the VIP file, and the DCS section when dcs.yml is missing', helpValue: 'URLS'}),
    'config-dir': Flags.string({description: 'directory of dcs.yml, config.yml.in and the result', default: '/etc/patroni', helpValue: 'DIR'}),
    'builtin-template': Flags.boolean({description: 'use hactl\'s built-in templates even when config.yml.in / vip.in exist'}),
    stdout: Flags.boolean({description: 'print the configuration instead of writing it'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(CreateConfig)
    const {runCreateConfig} = await import('../wiring/createconfig')
    process.exitCode = runCreateConfig(
      {
        version: args.version,
        cluster: args.cluster,
        hostip: flags.hostip,
        network: flags.network,
        port: flags.port,
        force: flags.force,
        vip: flags.vip,
        endpoint: flags.endpoint,
        configDir: flags['config-dir'],
        builtinTemplate: flags['builtin-template'],
        stdout: flags.stdout,
      },
      {out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s)},
    )
  }
}
