/**
 * A private certificate authority for TLS tests, made with the openssl command line in a temp
 * dir: a CA, server certificates (one per requested name), client certificates for roles, and
 * a CRL that revokes chosen certificates. Files are owned by `owner` (mode 0600 for keys) so
 * PostgreSQL, which runs as the unprivileged account, can read them.
 */
import {execFileSync} from 'node:child_process'
import {chmodSync, chownSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

export interface CertPair {
  cert: string
  key: string
}

export class TestCa {
  readonly cert: string
  readonly key: string
  private serial = 1

  constructor(
    readonly dir: string,
    private readonly owner?: {uid: number; gid: number},
  ) {
    this.cert = join(dir, 'ca.crt')
    this.key = join(dir, 'ca.key')
    this.openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', this.key, '-out', this.cert, '-days', '2', '-subj', '/CN=hactl test CA'])
    writeFileSync(join(dir, 'index.txt'), '')
    writeFileSync(join(dir, 'crlnumber'), '01\n')
    writeFileSync(
      join(dir, 'ca.cnf'),
      [
        '[ ca ]',
        'default_ca = CA_default',
        '[ CA_default ]',
        `database = ${join(dir, 'index.txt')}`,
        `crlnumber = ${join(dir, 'crlnumber')}`,
        'default_md = sha256',
        'default_crl_days = 2',
        '',
      ].join('\n'),
    )
    this.own(this.cert, 0o644)
    this.own(this.key, 0o600)
  }

  private openssl(args: string[]): void {
    execFileSync('openssl', args, {stdio: ['ignore', 'ignore', 'pipe']})
  }

  private own(path: string, mode: number): void {
    chmodSync(path, mode)
    if (this.owner) chownSync(path, this.owner.uid, this.owner.gid)
  }

  /**
   * A certificate signed by the CA: `cn` as its Common Name, `san` (e.g. `DNS:localhost,IP:127.0.0.1`)
   * as subjectAltName when given. `keyPassword` encrypts the key.
   */
  issue(name: string, cn: string, opts: {san?: string; keyPassword?: string} = {}): CertPair {
    const key = join(this.dir, `${name}.key`)
    const csr = join(this.dir, `${name}.csr`)
    const cert = join(this.dir, `${name}.crt`)
    const ext = join(this.dir, `${name}.ext`)
    this.openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`])
    writeFileSync(ext, `basicConstraints=CA:FALSE\n${opts.san ? `subjectAltName=${opts.san}\n` : ''}`)
    this.openssl(['x509', '-req', '-in', csr, '-CA', this.cert, '-CAkey', this.key, '-set_serial', String(++this.serial), '-days', '2', '-out', cert, '-extfile', ext])
    if (opts.keyPassword !== undefined) {
      const plain = `${key}.plain`
      renameSync(key, plain)
      this.openssl(['pkey', '-in', plain, '-out', key, '-aes256', '-passout', `pass:${opts.keyPassword}`])
      rmSync(plain)
    }
    this.own(cert, 0o644)
    this.own(key, 0o600)
    return {cert, key}
  }

  /** Revokes `certs` and writes the CA's CRL (every revocation so far) to `<name>.crl`. */
  revoke(name: string, ...certs: string[]): string {
    const cnf = join(this.dir, 'ca.cnf')
    for (const c of certs) this.openssl(['ca', '-config', cnf, '-keyfile', this.key, '-cert', this.cert, '-revoke', c])
    const crl = join(this.dir, `${name}.crl`)
    this.openssl(['ca', '-config', cnf, '-keyfile', this.key, '-cert', this.cert, '-gencrl', '-out', crl])
    this.own(crl, 0o644)
    return crl
  }
}
