#!/usr/bin/env bash
# Builds the executable twice from the same tree and fails when the SHA-256 differs.
# The SEA blob is made without V8's code cache, which is not deterministic (docs/architecture.md#reproducible-build).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
a=$(sha256sum dist/hactl | cut -d' ' -f1)
bash scripts/build.sh >/dev/null
b=$(sha256sum dist/hactl | cut -d' ' -f1)
echo "build 1: $a"
echo "build 2: $b"
if [ "$a" != "$b" ]; then echo "repro-check: the two builds differ" >&2; exit 1; fi
echo "repro-check: identical"
