#!/bin/sh
# Kernel prerequisites of a Kubernetes node on Debian/systemd: modules, sysctls, shared root.
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
# systemd-modules-load reads /etc/modules-load.d at boot.
mkdir -p /etc/modules-load.d
printf 'overlay\nbr_netfilter\n' | write_file /etc/modules-load.d/k8s.conf 644
modprobe overlay
modprobe br_netfilter

# systemd-sysctl applies /etc/sysctl.d at boot; apply our file now (procps' sysctl -p FILE).
# br_netfilter must be loaded first: its net.bridge.* keys do not exist before.
mkdir -p /etc/sysctl.d
write_file /etc/sysctl.d/99-k8s.conf 644 <<'CONF'
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
fs.inotify.max_user_instances = 8192
fs.inotify.max_user_watches = 524288
CONF
sysctl -p /etc/sysctl.d/99-k8s.conf

# Mount propagation (CSI drivers, some pods) needs a shared root. systemd (PID 1) mounts /
# shared at every boot, so normally there is nothing to do. If something made it private, make
# it rshared now and at every boot with a oneshot unit.
prop=$(findmnt -n -o PROPAGATION /) || die "findmnt cannot read the propagation of /"
case "$prop" in
shared*)
	log "/ is already $prop (systemd mounts it shared at boot)"
	;;
*)
	log "/ is '$prop', not shared: making it rshared now and at boot (k8s-rshared.service)"
	mkdir -p /etc/systemd/system
	write_file /etc/systemd/system/k8s-rshared.service 644 <<'UNIT'
# Written by homelab k8s-kernel.sh: Kubernetes mount propagation needs an rshared root.
[Unit]
Description=Make the root mount rshared for Kubernetes
DefaultDependencies=no
After=local-fs.target
Before=containerd.service kubelet.service k3s.service

[Service]
Type=oneshot
ExecStart=/bin/mount --make-rshared /
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
UNIT
	systemctl daemon-reload
	systemctl enable k8s-rshared.service
	mount --make-rshared /
	;;
esac
log "modules, sysctls and shared root configured"
