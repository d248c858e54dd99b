import {Command, Flags} from '@oclif/core'

export default class HaproxyRender extends Command {
  static override summary = 'Render haproxy.cfg for the cluster (a confd replacement).'
  static override description = [
    `Writes HAProxy's configuration for a Patroni-style cluster: a listener on 5000 that reaches the primary, one on 5001 for the replicas and a stats page on 127.0.0.1:7000, every member in every listener with an HTTP health check against its REST API (health checks pick the servers). The global section keeps the distribution's process settings (--global-section: Debian's by default, so HAProxy still runs as user haproxy, chrooted, logging to /dev/log, with its admin socket); with --global-section minimal --stats-bind '*' the output is Patroni's documented haproxy.cfg, server lines aside. Members come from the DCS (like patronictl: -c/--config-file, -d/--dcs-url or --etcd, with --scope), from --inventory FILE, or from --member flags. Output is sorted and byte-stable.`,
    `--inventory YAML: members: [{name, host, port (5432), api_port (8008), api_host, api_scheme, tags}] (or {name, conn_url, api_url}); optional scope.`,
    `--template FILE renders a Mustache-style template ({{x}}, {{#list}}...{{/list}}, {{^x}}...{{/x}}) with the same model as the built-in one; --print-template prints the built-in one to start from (README lists the model's fields). A name the model lacks is an error, not an empty string.`,
    `--output FILE is replaced atomically and only when its content changes; --check runs haproxy -c -f on the staged file first; after a change --reload-cmd runs. --watch keeps FILE up to date on every member change in the DCS (check on by default), until SIGINT/SIGTERM.`,
    `Exit codes: 0 unchanged (or printed to stdout), 3 changed (FILE replaced and reloaded; with --dry-run: would change), 4 changed but the reload command failed, 1 error (nothing installed), 2 bad usage.`,
  ].join('\n\n')
  static override examples = [
    '<%= config.bin %> haproxy render -c /etc/patroni/config.yml',
    '<%= config.bin %> haproxy render --etcd 10.0.0.1:2379 --scope main -o /etc/haproxy/haproxy.cfg --check',
    '<%= config.bin %> haproxy render --inventory members.yml --replica-lag 16MB --listener name=read_any,port=5002,endpoint=read-only',
    '<%= config.bin %> haproxy render --member node1=10.0.0.1:5432,8008 --member node2=10.0.0.2:5432,8008',
    '<%= config.bin %> haproxy render -c /etc/patroni/config.yml -o /etc/haproxy/haproxy.cfg --watch',
  ]

  static override flags = {
    // member sources
    'config-file': Flags.string({char: 'c', description: 'Patroni YAML (file or directory) naming the DCS and scope, as for patronictl [PATRONICTL_CONFIG_FILE]', helpValue: 'FILE', helpGroup: 'SOURCE'}),
    'dcs-url': Flags.string({char: 'd', aliases: ['dcs'], description: 'etcd v3 to read, [etcd3://]host[:port][/namespace] [DCS_URL]', helpValue: 'URL', helpGroup: 'SOURCE'}),
    etcd: Flags.string({description: 'etcd v3 endpoints, host:port[,host:port...] (replaces the config file\'s etcd3 hosts)', helpValue: 'HOSTS', helpGroup: 'SOURCE'}),
    scope: Flags.string({description: 'cluster name (default: scope from the configuration)', helpValue: 'NAME', helpGroup: 'SOURCE'}),
    namespace: Flags.string({description: 'DCS namespace (default /service/)', helpValue: 'PATH', helpGroup: 'SOURCE'}),
    insecure: Flags.boolean({char: 'k', hidden: true, description: 'accepted for patronictl compatibility; unused'}),
    inventory: Flags.string({description: 'static member list (YAML) instead of the DCS', helpValue: 'FILE', helpGroup: 'SOURCE'}),
    member: Flags.string({description: 'a member, name=host[:port][,apiport|,apihost:apiport|,https://apihost:apiport] (repeatable)', multiple: true, helpValue: 'SPEC', helpGroup: 'SOURCE'}),
    // layout
    bind: Flags.string({description: 'address every listener binds (* by default; :: binds IPv4 and IPv6)', helpValue: 'ADDR', helpGroup: 'LAYOUT'}),
    'primary-port': Flags.string({description: 'port of the primary listener [default: 5000]', helpValue: 'PORT', helpGroup: 'LAYOUT'}),
    'replica-port': Flags.string({description: 'port of the replicas listener [default: 5001]', helpValue: 'PORT', helpGroup: 'LAYOUT'}),
    'primary-endpoint': Flags.string({description: 'REST endpoint checked by the primary listener [default: primary]', helpValue: 'ENDPOINT', helpGroup: 'LAYOUT'}),
    'replica-endpoint': Flags.string({description: 'REST endpoint checked by the replicas listener [default: replica]', helpValue: 'ENDPOINT', helpGroup: 'LAYOUT'}),
    'replica-lag': Flags.string({description: 'replicas listener: only replicas at most this far behind (bytes or 16MB...)', helpValue: 'LAG', helpGroup: 'LAYOUT'}),
    'replica-tag': Flags.string({description: 'replicas listener: only replicas with this tag, key=value (repeatable)', multiple: true, helpValue: 'KEY=VALUE', helpGroup: 'LAYOUT'}),
    listener: Flags.string({description: 'extra listener (or a replacement, by name): name=N,port=P[,endpoint=E][,lag=L][,tag_K=V][,balance=B][,maxconn=M][,bind=A] (repeatable)', multiple: true, helpValue: 'SPEC', helpGroup: 'LAYOUT'}),
    stats: Flags.boolean({description: 'render the HTTP stats page listener (--no-stats leaves it out) [default: on]', allowNo: true, default: true, helpGroup: 'LAYOUT'}),
    'stats-port': Flags.string({description: 'port of the stats page [default: 7000]', helpValue: 'PORT', helpGroup: 'LAYOUT'}),
    'stats-uri': Flags.string({description: 'URI of the stats page [default: /]', helpValue: 'URI', helpGroup: 'LAYOUT'}),
    'stats-bind': Flags.string({description: 'address the stats page binds (\'*\' for every address) [default: 127.0.0.1]', helpValue: 'ADDR', helpGroup: 'LAYOUT'}),
    'global-section': Flags.string({description: 'process settings of the global section: debian (Debian\'s haproxy.cfg: log, chroot, admin socket, user haproxy, daemon), rhel (the haproxy RPM\'s), minimal (maxconn only) [default: debian]', options: ['debian', 'rhel', 'minimal'], helpValue: 'LAYOUT', helpGroup: 'LAYOUT'}),
    balance: Flags.string({description: 'balance algorithm of every listener (roundrobin, static-rr, leastconn, first, source, random)', helpValue: 'ALGO', helpGroup: 'LAYOUT'}),
    maxconn: Flags.string({description: 'global maxconn [default: 100]', helpValue: 'N', helpGroup: 'LAYOUT'}),
    'listener-maxconn': Flags.string({description: 'maxconn of every listener (unset by default)', helpValue: 'N', helpGroup: 'LAYOUT'}),
    'server-maxconn': Flags.string({description: 'maxconn of every server [default: 100]', helpValue: 'N', helpGroup: 'LAYOUT'}),
    retries: Flags.string({description: 'connection retries [default: 2]', helpValue: 'N', helpGroup: 'LAYOUT'}),
    'timeout-client': Flags.string({description: 'idle client connection timeout (timeout client) [default: 30m]', helpValue: 'TIME', helpGroup: 'LAYOUT'}),
    'timeout-connect': Flags.string({description: 'timeout to connect to a server (timeout connect) [default: 4s]', helpValue: 'TIME', helpGroup: 'LAYOUT'}),
    'timeout-server': Flags.string({description: 'idle server connection timeout (timeout server) [default: 30m]', helpValue: 'TIME', helpGroup: 'LAYOUT'}),
    'timeout-check': Flags.string({description: 'read timeout of a health check once connected (timeout check) [default: 5s]', helpValue: 'TIME', helpGroup: 'LAYOUT'}),
    'pgbouncer-port': Flags.string({description: 'send traffic to this port on each member (PgBouncer) instead of PostgreSQL\'s', helpValue: 'PORT', helpGroup: 'LAYOUT'}),
    template: Flags.string({description: 'render this template instead of the built-in one', helpValue: 'FILE', helpGroup: 'LAYOUT'}),
    'print-template': Flags.boolean({description: 'print the built-in template and exit', helpGroup: 'LAYOUT'}),
    // health checks
    'check-method': Flags.string({description: 'HTTP method of health checks: HEAD, OPTIONS or GET [default: HEAD]', helpValue: 'METHOD', helpGroup: 'HEALTH CHECK'}),
    inter: Flags.string({description: 'check interval [default: 3s]', helpValue: 'TIME', helpGroup: 'HEALTH CHECK'}),
    fall: Flags.string({description: 'failed checks before DOWN [default: 3]', helpValue: 'N', helpGroup: 'HEALTH CHECK'}),
    rise: Flags.string({description: 'passed checks before UP [default: 2]', helpValue: 'N', helpGroup: 'HEALTH CHECK'}),
    'check-ssl': Flags.boolean({description: 'health checks over TLS (default: when a member\'s api_url is https)', allowNo: true, helpGroup: 'HEALTH CHECK'}),
    'check-ca-file': Flags.string({description: 'CA that signed the REST API certificates', helpValue: 'FILE', helpGroup: 'HEALTH CHECK'}),
    'check-verify-none': Flags.boolean({description: 'do not verify the REST API certificate', helpGroup: 'HEALTH CHECK'}),
    'check-crt': Flags.string({description: 'client certificate + key (PEM) for REST APIs with verify_client: required', helpValue: 'FILE', helpGroup: 'HEALTH CHECK'}),
    'check-auth': Flags.string({description: 'user:password sent as Basic auth on checks (prefer the environment variable)', env: 'HACTL_HAPROXY_CHECK_AUTH', helpValue: 'USER:PASS', helpGroup: 'HEALTH CHECK'}),
    // output
    output: Flags.string({char: 'o', description: 'write here (atomic replace, only when changed) instead of stdout', helpValue: 'FILE', helpGroup: 'OUTPUT'}),
    check: Flags.boolean({description: 'validate with haproxy -c -f before writing (default: on with --watch)', allowNo: true, helpGroup: 'OUTPUT'}),
    'dry-run': Flags.boolean({description: 'with --output: only tell (exit 0 or 3) whether FILE would change', helpGroup: 'OUTPUT'}),
    'reload-cmd': Flags.string({description: 'shell command run after FILE changed; \'\' for none', default: 'systemctl reload haproxy', helpValue: 'CMD', helpGroup: 'OUTPUT'}),
    watch: Flags.boolean({description: 'keep --output up to date as members change in the DCS', helpGroup: 'OUTPUT'}),
    interval: Flags.string({description: '--watch: re-read everything at least this often, seconds [default: 10]', helpValue: 'SECONDS', helpGroup: 'OUTPUT'}),
    'haproxy-bin': Flags.string({description: 'HAProxy executable for --check', default: 'haproxy', helpValue: 'PATH', helpGroup: 'OUTPUT'}),
  }

  async run(): Promise<void> {
    const {flags: f} = await this.parse(HaproxyRender)
    if (f['print-template']) {
      const {DEFAULT_TEMPLATE} = await import('../../render/default-template')
      process.stdout.write(DEFAULT_TEMPLATE)
      return
    }
    const {runHaproxyRender, RENDER_EXIT} = await import('../../wiring/render')
    const io = {out: (s: string) => process.stdout.write(s), err: (s: string) => process.stderr.write(s), env: process.env}
    const dcsFlags = (['config-file', 'dcs-url', 'etcd', 'scope', 'namespace'] as const).filter((k) => f[k] !== undefined)
    const statics = [f.inventory !== undefined && '--inventory', f.member !== undefined && '--member'].filter(Boolean)
    if (statics.length > 1 || (statics.length && dcsFlags.length)) {
      process.stderr.write(`Error: pick one member source: ${[...statics, ...dcsFlags.map((k) => '--' + k)].join(', ')} exclude each other\n`)
      process.exitCode = RENDER_EXIT.usage
      return
    }
    const interval = f.interval === undefined ? 10 : Number(f.interval)
    const ac = new AbortController()
    const stop = () => ac.abort()
    if (f.watch) {
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    }
    try {
      process.exitCode = await runHaproxyRender(
        {
          source: f.inventory !== undefined
            ? {kind: 'inventory', file: f.inventory}
            : f.member !== undefined
              ? {kind: 'members', values: f.member}
              : {kind: 'dcs', configFile: f['config-file'], dcsUrl: f['dcs-url'], etcd: f.etcd, scope: f.scope, namespace: f.namespace, insecure: f.insecure},
          haproxy: {
            bind: f.bind,
            primaryPort: f['primary-port'],
            replicaPort: f['replica-port'],
            primaryEndpoint: f['primary-endpoint'],
            replicaEndpoint: f['replica-endpoint'],
            replicaLag: f['replica-lag'],
            replicaTags: f['replica-tag'],
            listeners: f.listener,
            stats: f.stats,
            statsPort: f['stats-port'],
            statsUri: f['stats-uri'],
            statsBind: f['stats-bind'],
            globalSection: f['global-section'],
            checkMethod: f['check-method'],
            inter: f.inter,
            fall: f.fall,
            rise: f.rise,
            balance: f.balance,
            maxconn: f.maxconn,
            listenerMaxconn: f['listener-maxconn'],
            serverMaxconn: f['server-maxconn'],
            retries: f.retries,
            timeoutClient: f['timeout-client'],
            timeoutConnect: f['timeout-connect'],
            timeoutServer: f['timeout-server'],
            timeoutCheck: f['timeout-check'],
            checkSsl: f['check-ssl'],
            caFile: f['check-ca-file'],
            verifyNone: f['check-verify-none'],
            crt: f['check-crt'],
            checkAuth: f['check-auth'],
            pgbouncerPort: f['pgbouncer-port'],
          },
          template: f.template,
          output: f.output,
          check: f.check,
          dryRun: f['dry-run'] ?? false,
          reloadCmd: f['reload-cmd'],
          watch: f.watch ?? false,
          interval,
          haproxyBin: f['haproxy-bin'],
        },
        {...io, signal: ac.signal},
      )
    } finally {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    }
  }
}
