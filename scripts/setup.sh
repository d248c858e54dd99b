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
PKGS=(curl etcd-server etcd-client postgresql-15 patroni haproxy iproute2 iputils-arping tcpdump tmux hyperfine openssl binutils git ca-certificates procps rpm rpm2cpio cpio lintian)

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
fi

# Debian 13's Patroni 4 as a second interop peer, unpacked under /opt/hactl-test/patroni-4 (cached).
if [ "$(id -u)" -eq 0 ]; then bash scripts/patroni4.sh; else sudo bash scripts/patroni4.sh; fi

# Node dependencies, from the lockfile. node_modules/.bin/node is then the pinned Node 24.
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
