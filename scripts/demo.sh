#!/usr/bin/env bash
# README's demo command: sets up a fresh Debian machine (apt packages, npm ci, build), then runs a
# local 3-node hactl cluster on 127.0.0.1 with its own etcd, all on free ports, and prints it.
#   bash scripts/demo.sh          set up and start (again: prints the running cluster)
#   bash scripts/demo.sh stop     stop everything this script started (by PID) and remove its files
# State lives in $HACTL_DEMO_DIR (default /tmp/hactl-demo). PostgreSQL refuses to run as root, so
# as root the agents run as Debian's `postgres` user.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
DEMO=${HACTL_DEMO_DIR:-/tmp/hactl-demo}
PGBIN=/usr/lib/postgresql/15/bin

stop_demo() {
  [ -d "$DEMO" ] || { echo "demo: nothing to stop ($DEMO does not exist)"; return 0; }
  for pidfile in "$DEMO"/node*/agent.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; fi
  done
  # The agents stop PostgreSQL on SIGTERM; wait for them, then make sure no postmaster is left.
  for pidfile in "$DEMO"/node*/agent.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" || true
  done
  for pm in "$DEMO"/node*/data/postmaster.pid; do
    [ -f "$pm" ] || continue
    pid=$(head -1 "$pm")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q postgres "/proc/$pid/cmdline" 2>/dev/null; then
      kill -QUIT "$pid" || true
    fi
  done
  if [ -f "$DEMO/etcd.pid" ]; then
    pid=$(cat "$DEMO/etcd.pid")
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$DEMO"
  echo "demo: stopped and removed $DEMO"
}

if [ "${1:-}" = "stop" ]; then stop_demo; exit 0; fi

if [ -f "$DEMO/etcd.pid" ] && kill -0 "$(cat "$DEMO/etcd.pid")" 2>/dev/null; then
  echo "demo: already running in $DEMO"
  "$REPO/dist/hactl" -c "$DEMO/node1/config.yml" list
  exit 0
fi

bash scripts/setup.sh
[ -x dist/hactl ] || bash scripts/build.sh

RUNAS=()
OWNER=$(id -un)
if [ "$(id -u)" -eq 0 ]; then RUNAS=(setpriv --reuid=postgres --regid=postgres --init-groups --); OWNER=postgres; fi

free_port() { node_modules/.bin/node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

rm -rf "$DEMO"
mkdir -p "$DEMO"
ETCD_PORT=$(free_port); ETCD_PEER=$(free_port)
setsid etcd --name demo --data-dir "$DEMO/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-cluster "demo=http://127.0.0.1:$ETCD_PEER" \
  --log-level warn >"$DEMO/etcd.log" 2>&1 < /dev/null &
echo $! > "$DEMO/etcd.pid"
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$ETCD_PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done

for i in 1 2 3; do
  d="$DEMO/node$i"; mkdir -p "$d/sock"
  api=$(free_port); pg=$(free_port)
  cat > "$d/config.yml" <<YAML
scope: demo
name: node$i
restapi:
  listen: 127.0.0.1:$api
  connect_address: 127.0.0.1:$api
etcd3:
  hosts: 127.0.0.1:$ETCD_PORT
bootstrap:
  dcs:
    ttl: 20
    loop_wait: 2
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: on
        max_wal_senders: 10
        max_replication_slots: 10
  initdb:
    - encoding: UTF8
    - data-checksums
postgresql:
  listen: 127.0.0.1:$pg
  connect_address: 127.0.0.1:$pg
  data_dir: $d/data
  bin_dir: $PGBIN
  pgpass: $d/pgpass
  authentication:
    superuser: {username: postgres, password: demo-superuser}
    replication: {username: replicator, password: demo-replication}
    rewind: {username: rewinder, password: demo-rewind}
  parameters:
    unix_socket_directories: $d/sock
    shared_buffers: 32MB
  pg_hba:
    - local all all trust
    - host replication all 127.0.0.1/32 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
YAML
done
chown -R "$OWNER" "$DEMO"/node*
for i in 1 2 3; do
  d="$DEMO/node$i"
  # setsid: the agents outlive this script; `bash scripts/demo.sh stop` ends them by PID.
  setsid "${RUNAS[@]}" "$REPO/dist/hactl" agent "$d/config.yml" >"$d/agent.log" 2>&1 < /dev/null &
  echo $! > "$d/agent.pid"
  # Let node1 win the bootstrap race so the demo reads the same every time.
  if [ "$i" -eq 1 ]; then
    for _ in $(seq 1 600); do
      "$REPO/dist/hactl" -c "$d/config.yml" list -f json 2>/dev/null | grep -q '"Role": "Leader"' && break
      sleep 0.2
    done
  fi
done

echo "demo: waiting for two streaming replicas..."
for _ in $(seq 1 900); do
  n=$("$REPO/dist/hactl" -c "$DEMO/node1/config.yml" list -f json 2>/dev/null | grep -o '"State": "streaming"' | wc -l || true)
  [ "${n:-0}" -ge 2 ] && break
  sleep 0.2
done
"$REPO/dist/hactl" -c "$DEMO/node1/config.yml" list
cat <<TXT

The cluster runs in $DEMO (logs: node*/agent.log, etcd.log).
  dist/hactl -c $DEMO/node1/config.yml list       # the cluster, as patronictl shows it
  dist/hactl -c $DEMO/node1/config.yml topology
  bash scripts/demo.sh stop                        # stop everything and remove $DEMO
TXT
