#!/usr/bin/env bash
# `hactl list` next to Debian's `patronictl list` (3.0.2), both reading the same real 3-node
# Patroni cluster (test/harness/patroni.ts) on loopback. Prints median/mean/min wall clock per
# command (hyperfine). Needs: npm run build, hyperfine, etcd, PostgreSQL 15, patroni.
# RUNS=50 by default; the machine is shared, so compare the two lines of one run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
[ -x dist/hactl ] || { echo "bench: run 'npm run build' first" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench: hyperfine is not installed" >&2; exit 1; }
tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
cat > "$tmp/cluster.ts" <<TS
import {writeFileSync} from 'node:fs'
import {EtcdServer} from '$PWD/test/harness/etcd'
import {PatroniCluster} from '$PWD/test/harness/patroni'
async function main() {
  const etcd = await EtcdServer.start()
  const cluster = await PatroniCluster.start({etcd, scope: 'bench', nodes: 3})
  const stop = async () => { await cluster.destroy(); await etcd.destroy(); process.exit(0) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  writeFileSync('$tmp/ready', cluster.nodes[0]!.configPath)
  setInterval(() => {}, 1 << 30)
}
main().catch((e) => { console.error(e); process.exit(1) })
TS
node --import tsx "$tmp/cluster.ts" > "$tmp/cluster.log" 2>&1 &
pid=$!
for _ in $(seq 1 1200); do
  [ -s "$tmp/ready" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/cluster.log" >&2; exit 1; }
  sleep 0.1
done
[ -s "$tmp/ready" ] || { echo "bench: the cluster did not start in 120 s" >&2; cat "$tmp/cluster.log" >&2; exit 1; }
cfg=$(cat "$tmp/ready")
dist/hactl -c "$cfg" list
hyperfine -N --warmup 3 --runs "${RUNS:-50}" --export-json "$tmp/h.json" \
  "dist/hactl -c $cfg list" "patronictl -c $cfg list" >/dev/null
node -e '
const r = require(process.argv[1]).results
const ms = (x) => (x * 1000).toFixed(1).padStart(9)
console.log("command".padEnd(20), "median ms", "  mean ms", "   min ms")
for (const x of r) console.log(x.command.split(" ")[0].padEnd(20), ms(x.median), ms(x.mean), ms(x.min))
console.log(`hactl list is ${(r[1].median / r[0].median).toFixed(1)}x faster (median)`)
' "$tmp/h.json"
