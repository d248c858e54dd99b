/**
 * The built-in haproxy.cfg template, embedded in the executable as a string (no file beside
 * the binary). `hactl haproxy render --print-template` prints it, so users start their own
 * `--template` from exactly what hactl renders.
 *
 * Its listeners and defaults reproduce Patroni's documented haproxy.cfg (seed 004, 1.7.3)
 * line for line, server lines aside; the global section adds the distribution's process
 * settings (--global-section, Debian's by default) and the stats page binds 127.0.0.1
 * (--stats-bind). `--global-section minimal` with `--stats-bind '*'` gives Patroni's file.
 */
export const DEFAULT_TEMPLATE = `{{! hactl haproxy render: the built-in template. Model: see README "hactl haproxy render". }}
global
    maxconn {{global.maxconn}}
{{#global.lines}}
    {{.}}
{{/global.lines}}

defaults
    log      global
    mode     tcp
    retries  {{defaults.retries}}
    timeout  client {{defaults.timeoutClient}}
    timeout  connect {{defaults.timeoutConnect}}
    timeout  server {{defaults.timeoutServer}}
    timeout  check {{defaults.timeoutCheck}}
{{#stats}}

listen stats
    mode http
    bind {{bind}}
    stats enable
    stats uri {{uri}}
{{/stats}}
{{#listeners}}

listen {{name}}
    bind {{bind}}
{{#maxconn}}
    maxconn {{maxconn}}
{{/maxconn}}
{{#balance}}
    balance {{balance}}
{{/balance}}
    {{httpchk}}
{{#checkSend}}
    http-check send {{checkSend}}
{{/checkSend}}
    http-check expect status 200
    default-server {{defaultServer}}
{{#servers}}
    server {{name}} {{address}} {{options}}
{{/servers}}
{{/listeners}}
`
