/**
 * The files of templates/ the code renders: the built-in haproxy.cfg template and createconfig's
 * built-in config.yml.in and vip.in. The executable carries them (scripts/build.mjs puts the
 * files into the bundle as __HACTL_TEMPLATES__, so nothing is read beside the binary); run from
 * source (tsx, tests), they are read from the checkout.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

declare const __HACTL_TEMPLATES__: Readonly<Record<string, string>> | undefined

/** The text of templates/<name>, e.g. `haproxy.cfg.mustache`, `createconfig/vip.in`. */
export function templateText(name: string): string {
  if (typeof __HACTL_TEMPLATES__ !== 'undefined') {
    const text = __HACTL_TEMPLATES__[name]
    if (text === undefined) throw new Error(`templates/${name} is not in this build (scripts/build.mjs embeds templates/)`)
    return text
  }
  return readFileSync(join(__dirname, '..', 'templates', name), 'utf8')
}
