#!/usr/bin/env bash
# A real S3-compatible server for the tests and for trying the S3 box store by hand: Ceph's
# radosgw from Debian's packages (ceph-mon ceph-osd radosgw), one monitor, one OSD on a sparse
# file, no cephx, listening on 127.0.0.1 only. Everything lives under DIR; nothing else on the
# machine is touched (no /etc/ceph, no systemd units).
#
#   scripts/s3-server.sh start DIR   starts it (creates the cluster on first use, reuses it after)
#                                    and writes DIR/env: export lines for the endpoint and keys
#   scripts/s3-server.sh stop DIR    stops it (rgw, osd, mon, in that order); DIR stays
#   scripts/s3-server.sh status DIR  exit 0 when the S3 endpoint answers
#
# Ports: HOMELAB_S3_PORT (S3, default 7480) and HOMELAB_S3_MON_PORT (monitor, default 3300).
# Why these settings: /work/shared/reference/s3-on-loopback.md (measured on Debian 12, Ceph 16).
set -euo pipefail

usage() { echo "usage: $0 start|stop|status DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
port=${HOMELAB_S3_PORT:-7480}
mon_port=${HOMELAB_S3_MON_PORT:-3300}
conf=$dir/ceph.conf
export CEPH_CONF=$conf
access_key=homelab-test
secret_key=homelab-test-secret

# Alive means running, not a zombie waiting to be reaped (kill -0 says yes to those).
alive() {
  local pid=$1
  [ -r "/proc/$pid/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status"
}

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
  local seconds=$1; shift
  local i
  for ((i = 0; i < seconds * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

# Starts a daemon in a session of its own (so a test runner's signals do not reach it) and
# records its pid in DIR/run/NAME.pid.
start_daemon() {
  local name=$1; shift
  if [ -f "$dir/run/$name.pid" ] && alive "$(cat "$dir/run/$name.pid")"; then return 0; fi
  setsid "$@" </dev/null >>"$dir/log/$name.out" 2>&1 &
  echo $! >"$dir/run/$name.pid"
}

stop_daemon() {
  local name=$1 pidfile=$dir/run/$1.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    wait_for 20 bash -c "! { [ -r /proc/$pid/status ] && ! grep -q '^State:[[:space:]]*Z' /proc/$pid/status; }" || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

s3_answers() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; }

write_conf() {
  local fsid=$1
  cat >"$conf" <<EOF
# Written by homelab scripts/s3-server.sh: a one-node Ceph for radosgw on loopback.
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$mon_port
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
run_dir = $dir/run
admin_socket = $dir/run/\$cluster-\$name.asok
log_file = $dir/log/\$cluster-\$name.log
keyring = $dir/keyring
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 1
osd_pool_default_pgp_num = 1
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_max_pg_per_osd = 1000
# The monitor stops itself below 5 % free disk by default; a shared CI disk is often that full.
mon_data_avail_warn = 2
mon_data_avail_crit = 1

[mon]
mon_data = $dir/mon/\$id
# A cold start takes 16-21 s with the default interval, 5.5 s with this.
paxos_propose_interval = 0.01

[osd]
osd_data = $dir/osd/\$id
osd_objectstore = bluestore
bluestore_block_create = true
# A sparse file: only what is written takes disk space.
bluestore_block_size = 21474836480
osd_memory_target = 939524096

[client.rgw.a]
# Without it radosgw loops on "returned -13" when auth is none.
ms_mon_client_mode = crc
rgw_frontends = beast endpoint=127.0.0.1:$port
EOF
}

start() {
  mkdir -p "$dir/run" "$dir/log" "$dir/mon" "$dir/osd"
  local fresh=false
  if [ ! -f "$dir/mon/a/keyring" ] && [ ! -f "$dir/mon/a/store.db/CURRENT" ]; then
    fresh=true
    local fsid
    fsid=$(cat /proc/sys/kernel/random/uuid)
    write_conf "$fsid"
    monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/run/monmap" >/dev/null
    ceph-mon --mkfs -i a --monmap "$dir/run/monmap" >>"$dir/log/mkfs.out" 2>&1
  fi
  start_daemon mon ceph-mon -i a -f
  wait_for 60 ceph --connect-timeout 5 mon stat || { echo "s3-server: the monitor did not start (see $dir/log)" >&2; exit 1; }
  if $fresh || [ ! -f "$dir/osd/0/fsid" ]; then
    local uuid
    uuid=$(cat /proc/sys/kernel/random/uuid)
    mkdir -p "$dir/osd/0"
    ceph osd new "$uuid" >/dev/null
    ceph-osd -i 0 --mkfs --osd-uuid "$uuid" >>"$dir/log/mkfs.out" 2>&1
  fi
  start_daemon osd ceph-osd -i 0 -f
  wait_for 60 bash -c 'ceph osd dump | grep -q "^osd.0 up"' || { echo "s3-server: osd.0 did not come up (see $dir/log)" >&2; exit 1; }
  start_daemon rgw radosgw -n client.rgw.a -f
  wait_for 90 s3_answers || { echo "s3-server: radosgw does not answer on 127.0.0.1:$port (see $dir/log)" >&2; exit 1; }
  if ! radosgw-admin user info --uid=homelab-test >/dev/null 2>&1; then
    radosgw-admin user create --uid=homelab-test --display-name=homelab-test --access-key="$access_key" --secret-key="$secret_key" >/dev/null
  fi
  cat >"$dir/env" <<EOF
export HOMELAB_TEST_S3_ENDPOINT=http://127.0.0.1:$port
export HOMELAB_TEST_S3_ACCESS_KEY=$access_key
export HOMELAB_TEST_S3_SECRET_KEY=$secret_key
export HOMELAB_TEST_S3_DIR=$dir
EOF
  echo "s3-server: radosgw on http://127.0.0.1:$port (keys and endpoint: $dir/env)"
}

stop() {
  stop_daemon rgw
  stop_daemon osd
  stop_daemon mon
  echo "s3-server: stopped"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  status) s3_answers ;;
  *) usage ;;
esac
