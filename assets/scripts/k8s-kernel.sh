#!/bin/sh
# Kernel prerequisites of a Kubernetes node on Alpine/OpenRC: modules, sysctls, rshared root.
# Env: none.
set -eu

log() { printf 'k8s-kernel: %s\n' "$*"; }
die() { printf 'k8s-kernel: ERROR: %s\n' "$*" >&2; exit 1; }
write_file() {
	_tmp="$1.tmp.$$"
	cat >"$_tmp" || { rm -f "$_tmp"; die "cannot write $1"; }
	chmod "$2" "$_tmp"
	mv -f "$_tmp" "$1"
}

# overlay: containerd's snapshotter; br_netfilter: bridged pod traffic must traverse iptables.
mkdir -p /etc/modules-load.d
printf 'overlay\nbr_netfilter\n' | write_file /etc/modules-load.d/k8s.conf 644
modprobe overlay
modprobe br_netfilter

# BusyBox sysctl has no --system: apply our file explicitly (the OpenRC sysctl service reads
# /etc/sysctl.d at boot).
mkdir -p /etc/sysctl.d
write_file /etc/sysctl.d/99-k8s.conf 644 <<'CONF'
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
fs.inotify.max_user_instances = 8192
fs.inotify.max_user_watches = 524288
CONF
sysctl -p /etc/sysctl.d/99-k8s.conf

# OpenRC leaves / private; pods with mount propagation (CSI drivers) need it rshared. The
# `local` service runs /etc/local.d/*.start at every boot.
mkdir -p /etc/local.d
write_file /etc/local.d/k8s-rshared.start 755 <<'START'
#!/bin/sh
# Written by homelab k8s-kernel.sh: Kubernetes mount propagation needs an rshared root.
mount --make-rshared /
START
rc-update add local default
mount --make-rshared /
log "modules, sysctls and rshared root configured"
