#!/usr/bin/env bash
# npm test: the whole suite (unit, the simulator, integration against real etcd/PostgreSQL, then
# e2e on the built executable). `npm test -- unit` runs one layer. Exits non-zero when no test ran.
# The simulator layer (test/sim: 10,000 seeded schedules on every core) runs in a phase of its
# own first, so that it never competes for CPU with the timing-sensitive integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"   # node = the pinned Node 24
shopt -s globstar nullglob
layers=("$@")
[ ${#layers[@]} -gt 0 ] || layers=(unit sim integration e2e chaos)
if [[ " ${layers[*]} " == *" chaos "* ]] && [ ${#layers[@]} -gt 1 ]; then
  # The chaos suite (test/chaos: real processes in network namespaces, fixed seeds) runs on its
  # own, after the rest.
  rest=()
  for l in "${layers[@]}"; do [ "$l" = chaos ] || rest+=("$l"); done
  rc=0
  bash "$0" "${rest[@]}" || rc=$?
  bash "$0" chaos || rc=$?
  exit "$rc"
fi
files=()
sim_files=()
for layer in "${layers[@]}"; do
  case "$layer" in
    sim) sim_files+=(test/sim/**/*.test.ts) ;;
    unit|integration|e2e|chaos) files+=(test/"$layer"/**/*.test.ts) ;;
    *) if [ -d "$layer" ]; then files+=("${layer%/}"/**/*.test.ts); else files+=("$layer"); fi ;;
  esac
done
if [ ${#sim_files[@]} -gt 0 ] && [ ${#files[@]} -gt 0 ]; then
  # Both: the simulator first, on its own, then the rest (its result decides with theirs).
  bash "$0" "${sim_files[@]}"
elif [ ${#sim_files[@]} -gt 0 ]; then
  files=("${sim_files[@]}")
fi
if [ ${#files[@]} -eq 0 ]; then
  echo "test: no test files found for: ${layers[*]}" >&2
  exit 1
fi
if [[ " ${layers[*]} " == *" e2e "* ]] && [ ! -x dist/hactl ]; then
  echo "test: dist/hactl is missing; run 'npm run build' first (e2e tests run the built executable)" >&2
  exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
# No --test-force-exit: with it, Node 24's runner sometimes ends a test file's process before all
# of its tests ran and reports the rest as never having existed (470 unit tests counted as 416-445
# in some runs, all passing). A file that cannot exit (a leaked handle) instead makes the whole run
# time out here, loudly.
timeout --signal=TERM --kill-after=30 "${TEST_RUN_TIMEOUT_S:-1800}" \
  node --import tsx --test --test-reporter=spec --test-concurrency="${TEST_CONCURRENCY:-2}" \
  --test-timeout="${TEST_TIMEOUT_MS:-600000}" "${files[@]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "test: the run did not finish within ${TEST_RUN_TIMEOUT_S:-1800} s (a test file that never exits?)" >&2
fi
tests=$(grep -Eo '^ℹ tests [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+$' || echo 0)
if [ "$rc" -eq 0 ] && [ "${tests:-0}" -eq 0 ]; then
  echo "test: the runner executed no test" >&2
  exit 1
fi
exit "$rc"
