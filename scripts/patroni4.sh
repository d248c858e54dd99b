#!/usr/bin/env bash
# Puts Debian 13 (trixie)'s Patroni 4 next to bookworm's Patroni 3.0.2, for the interop tests, without
# touching the system's apt sources: apt-get runs on a private sources list, lists dir and cache,
# downloads the patroni and python3-ydiff .debs and unpacks them with dpkg -x under $DEST. The other
# Python dependencies are bookworm's (those of the installed patroni 3.0.2 package, see setup.sh).
# Wrappers $DEST/bin/patroni and $DEST/bin/patronictl run it with /usr/bin/python3.
# Idempotent and cached: does nothing when $DEST/bin/patroni already reports a 4.x version.
# Runs as root (apt-get); no TTY needed. Fails loudly: the interop tests need this peer.
set -euo pipefail
DEST="${HACTL_PATRONI4_DIR:-/opt/hactl-test/patroni-4}"
SUITE="${HACTL_PATRONI4_SUITE:-trixie}"

have() { [ -x "$DEST/bin/patroni" ] && "$DEST/bin/patroni" --version 2>/dev/null | grep -Eq '^patroni 4\.'; }
if have; then exit 0; fi

work=$(mktemp -d /tmp/hactl-patroni4.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/root"
echo "deb http://deb.debian.org/debian $SUITE main" >"$work/sources.list"
# _apt (apt's download sandbox user) must be able to write where the files land.
chown -R _apt "$work/lists" "$work/cache" "$work/debs" 2>/dev/null || true
A=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
   -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1)
echo "patroni4: fetching patroni and python3-ydiff from Debian $SUITE into $DEST"
apt-get "${A[@]}" -qq update
(cd "$work/debs" && apt-get "${A[@]}" -qq download patroni python3-ydiff)
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done

rm -rf "$DEST.new"
mkdir -p "$DEST.new/bin"
cp -a "$work/root/usr/lib/python3/dist-packages" "$DEST.new/lib"
cp "$work"/debs/*.deb "$DEST.new/"
wrapper() { # name, python module, function
  cat >"$DEST.new/bin/$1" <<EOF
#!/bin/sh
# Debian $SUITE's $1, unpacked by hactl's scripts/patroni4.sh; bookworm's Python modules for the rest.
PYTHONPATH="$DEST/lib\${PYTHONPATH:+:\$PYTHONPATH}" exec /usr/bin/python3 -c 'import sys; from $2 import $3; sys.argv[0] = "$1"; sys.exit($3())' "\$@"
EOF
  chmod 755 "$DEST.new/bin/$1"
}
wrapper patroni patroni.__main__ main
wrapper patronictl patroni.ctl ctl
rm -rf "$DEST"
mv "$DEST.new" "$DEST"
chmod -R a+rX "$DEST"
if ! have; then
  echo "patroni4: $DEST/bin/patroni does not run as Patroni 4:" >&2
  "$DEST/bin/patroni" --version >&2 || true
  exit 1
fi
echo "patroni4: $("$DEST/bin/patroni" --version), $("$DEST/bin/patronictl" version 2>/dev/null | head -1 || true)"
