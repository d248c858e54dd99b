#!/usr/bin/env bash
# The README's test command: set up a fresh Debian machine, build the single executable and run
# every test (unit, integration against real etcd/PostgreSQL/Patroni, e2e on dist/hactl).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/repro-check.sh   # builds dist/hactl twice: same tree must give the same SHA-256
# Agents in the integration tests run as the built executable, the thing that ships.
HACTL_TEST_BIN="$PWD/dist/hactl" npm test
