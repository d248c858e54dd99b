import {templateText} from '../templates'

/**
 * The built-in haproxy.cfg template, templates/haproxy.cfg.mustache, embedded in the executable
 * (src/templates.ts: no file beside the binary). `hactl haproxy render --print-template` prints it, so users start their own
 * `--template` from exactly what hactl renders.
 *
 * Its listeners and defaults reproduce Patroni's documented haproxy.cfg (seed 004, 1.7.3)
 * line for line, server lines aside; the global section adds the distribution's process
 * settings (--global-section, Debian's by default) and the stats page binds 127.0.0.1
 * (--stats-bind). `--global-section minimal` with `--stats-bind '*'` gives Patroni's file.
 */
export const DEFAULT_TEMPLATE = templateText('haproxy.cfg.mustache')
