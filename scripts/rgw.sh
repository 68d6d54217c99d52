#!/usr/bin/env bash
# A throw-away S3 server with Object Lock for the integration tests: a single-node Ceph cluster
# (one monitor, one manager, one in-memory OSD) and the RADOS Gateway, on 127.0.0.1 only.
#
#   scripts/rgw.sh up DIR [PORT]   start; prints `endpoint=URL access_key=K secret_key=S tls_endpoint=URL ca=FILE`
#                                  (the gateway also serves HTTPS, with a certificate from a CA made here)
#   scripts/rgw.sh down DIR        stop the daemons started in DIR (by their pid files), remove DIR
#
# Needs Debian's ceph-mon ceph-osd ceph-mgr radosgw ceph-common; installs them when missing and
# running as root. Logs are in DIR/log. Nothing listens beyond loopback; no state outlives DIR.
set -euo pipefail

usage() { echo "usage: $0 up DIR [PORT] | down DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
action=$1; dir=$2

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# Stops the daemons a cluster directory's pid files name.
stop_daemons() {
  local d=$1
  for p in "$d"/run/*.pid; do [ -f "$p" ] && kill "$(cat "$p" 2>/dev/null)" 2>/dev/null || true; done
  # Give the daemons a moment to exit cleanly, then make sure.
  for _ in $(seq 20); do
    alive=0
    for p in "$d"/run/*.pid; do [ -f "$p" ] && kill -0 "$(cat "$p" 2>/dev/null)" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "$d"/run/*.pid; do [ -f "$p" ] && kill -9 "$(cat "$p" 2>/dev/null)" 2>/dev/null || true; done
}

down() {
  local d=$1
  [ -d "$d/run" ] && stop_daemons "$d"
  rm -rf "$d" "$d.failed"
}

install_ceph() {
  if command -v radosgw >/dev/null && command -v ceph-osd >/dev/null && command -v ceph-mgr >/dev/null \
     && command -v ceph-mon >/dev/null && command -v radosgw-admin >/dev/null; then return 0; fi
  [ "$(id -u)" = 0 ] || { echo "ceph is not installed and this is not root: apt-get install ceph-mon ceph-osd ceph-mgr radosgw ceph-common" >&2; exit 1; }
  # The tests start this script with RGW_NO_INSTALL=1: a test never installs packages (.ci/run does).
  [ "${RGW_NO_INSTALL:-}" != 1 ] || { echo "ceph is not installed: apt-get install ceph-mon ceph-osd ceph-mgr radosgw ceph-common (.ci/run does)" >&2; exit 1; }
  (export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q ceph-mon ceph-osd ceph-mgr radosgw ceph-common) >"$1/apt.log" 2>&1 \
    || { echo "installing ceph failed; see $1/apt.log" >&2; exit 1; }
}

# Poll a command until it succeeds, up to N tenths of a second.
wait_for() { local n=$1; shift; for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

up() {
  if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
    echo "$dir is not empty (an earlier cluster?): run '$0 down $dir' first, or pick a new directory" >&2; exit 1
  fi
  mkdir -p "$dir"; local d; d=$(cd "$dir" && pwd)
  install_ceph "$d"
  # Ceph 16 daemons started in quick succession sometimes race each other on a busy machine (a
  # command refused with "wrong fsid" or EPERM): start a fresh cluster again, up to three times.
  local line attempt
  for attempt in 1 2 3; do
    # A separate bash, so that `set -e` holds inside it (an `if` would switch it off here).
    if line=$(bash "$0" _attempt "$d" "$@"); then echo "$line"; return 0; fi
    mkdir -p "$d.failed"; mv "$d/log" "$d.failed/log-$attempt" 2>/dev/null || true
    find "$d" -mindepth 1 -maxdepth 1 ! -name apt.log -exec rm -rf {} +
    echo "rgw.sh: start $attempt failed (logs in $d.failed/log-$attempt)" >&2
  done
  exit 1
}

# One attempt (`rgw.sh _attempt DIR [PORT]`, run by `up`): on any failure it stops what it started.
start_cluster() {
  d=$1
  rgw_ok=no
  trap 'if [ "$rgw_ok" != yes ]; then stop_daemons "$d"; fi' EXIT
  port=${2:-$(free_port)}
  local monport fsid
  monport=$(free_port)
  fsid=$(python3 -c 'import uuid;print(uuid.uuid4())')
  mkdir -p "$d"/{mon,osd0,mgr,run,log}
  cat > "$d/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$monport
mon initial members = a
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd objectstore = memstore
# The OSD is placed in the CRUSH map below; its own start-up update races the monitor ("wrong fsid").
osd class update on start = false
osd crush update on start = false
memstore device bytes = 2147483648
run dir = $d/run
admin socket = $d/run/\$name.asok
log file = $d/log/\$name.log
pid file = $d/run/\$name.pid
ms bind ipv6 = false
[mon.a]
mon data = $d/mon
[mgr.x]
mgr data = $d/mgr
[osd.0]
osd data = $d/osd0
[client.rgw]
rgw dns name = localhost
rgw enable usage log = false
CONF
  local c="-c $d/ceph.conf"
  # A CA and a certificate for 127.0.0.1, so that clients can be tested with a custom CA over HTTPS.
  local tlsport
  tlsport=$(free_port)
  mkdir -p "$d/tls"
  ( cd "$d/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=auditseal-test-s3-ca -keyout ca.key -out ca.crt
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.crt
  ) >"$d/log/tls.out" 2>&1 || { echo "openssl failed; see $d/log/tls.out" >&2; exit 1; }
  ceph-authtool --create-keyring "$d/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  monmaptool --create --addv a "[v1:127.0.0.1:$monport]" --fsid "$fsid" "$d/monmap" >/dev/null
  ceph-mon $c --mkfs -i a --monmap "$d/monmap" --keyring "$d/mon.keyring"
  # Daemons get their own stdio: one holding the caller's stdout open would block `$(rgw.sh up)`.
  ceph-mon $c -i a </dev/null >>"$d/log/daemons.out" 2>&1
  wait_for 100 timeout 5 ceph $c -s || { echo "ceph-mon did not start; see $d/log" >&2; exit 1; }
  ceph-mgr $c -i x </dev/null >>"$d/log/daemons.out" 2>&1
  local uuid osd
  uuid=$(python3 -c 'import uuid;print(uuid.uuid4())')
  osd=$(ceph $c osd new "$uuid")
  ceph-osd $c -i "$osd" --mkfs --osd-uuid "$uuid" >"$d/log/osd-mkfs.out" 2>&1
  ceph $c osd crush add "osd.$osd" 1 root=default host=localhost >/dev/null 2>&1 || true
  osd_up() { ceph $c osd stat 2>/dev/null | grep -q "1 up"; }
  # A fresh OSD sometimes asks the monitor before it knows the cluster's fsid and gives up
  # ("wrong fsid" in its log): start it again, up to three times.
  local started=no
  for attempt in 1 2 3; do
    if ceph-osd $c -i "$osd" </dev/null >>"$d/log/daemons.out" 2>&1 && wait_for 200 osd_up; then started=yes; break; fi
    echo "ceph-osd start $attempt failed, retrying" >>"$d/log/daemons.out"
    [ -f "$d/run/osd.$osd.pid" ] && kill "$(cat "$d/run/osd.$osd.pid")" 2>/dev/null || true
    sleep 1
  done
  [ $started = yes ] || { echo "ceph-osd did not come up; see $d/log" >&2; exit 1; }
  radosgw $c -n client.rgw --rgw-frontends "beast endpoint=127.0.0.1:$port ssl_endpoint=127.0.0.1:$tlsport ssl_certificate=$d/tls/server.crt ssl_private_key=$d/tls/server.key" </dev/null >>"$d/log/daemons.out" 2>&1
  wait_for 300 curl -sf -o /dev/null "http://127.0.0.1:$port/" || { echo "radosgw did not answer; see $d/log" >&2; exit 1; }
  radosgw-admin $c user create --uid=auditseal --display-name=auditseal \
    --access-key=AUDITSEALTESTKEY --secret=auditseal-test-secret >/dev/null
  radosgw-admin $c user create --uid=auditor --display-name=auditor \
    --access-key=AUDITORTESTKEY --secret=auditor-test-secret >/dev/null
  wait_for 100 curl -sf -o /dev/null --cacert "$d/tls/ca.crt" "https://127.0.0.1:$tlsport/" || { echo "radosgw did not answer over HTTPS; see $d/log" >&2; exit 1; }
  rgw_ok=yes
  echo "endpoint=http://127.0.0.1:$port access_key=AUDITSEALTESTKEY secret_key=auditseal-test-secret tls_endpoint=https://127.0.0.1:$tlsport ca=$d/tls/ca.crt"
}

case $action in
  up) shift 2; up "$@" ;;
  _attempt) shift 2; start_cluster "$dir" "$@" ;;
  down) down "$dir" ;;
  *) usage ;;
esac
