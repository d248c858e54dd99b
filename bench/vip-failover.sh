#!/usr/bin/env bash
# Time from a leader-key change in etcd to the VIP showing in the new node's namespace (and
# leaving the old one's), with `hactl vip` run from source. Needs root (network namespaces).
# ROUNDS=N sets the number of key flips (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench: needs root for network namespaces" >&2; exit 1; }
exec node_modules/.bin/node --import tsx bench/vip-failover.ts
