# shellcheck shell=sh
# Kernel prerequisites of a Kubernetes node: modules, sysctls, an rshared root, now and at boot.
# Env: none.
set -eu

# overlay: containerd's snapshotter; br_netfilter: bridged pod traffic must traverse iptables.
# The init system (OpenRC's modules service, systemd-modules-load) reads modules-load.d at boot.
mkdir -p /etc/modules-load.d
printf 'overlay\nbr_netfilter\n' | write_file /etc/modules-load.d/k8s.conf 644
modprobe overlay
modprobe br_netfilter

# The init system applies /etc/sysctl.d at boot; apply our file now, explicitly (BusyBox sysctl
# has no --system). br_netfilter is loaded first: its net.bridge.* keys do not exist before.
mkdir -p /etc/sysctl.d
write_file /etc/sysctl.d/99-k8s.conf 644 <<'CONF'
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
fs.inotify.max_user_instances = 8192
fs.inotify.max_user_watches = 524288
CONF
sysctl -p /etc/sysctl.d/99-k8s.conf

# Mount propagation (CSI drivers, some pods) needs an rshared root. Where the init system shares
# / at every boot and it is shared now, there is nothing to do; otherwise make it rshared now
# and at every boot.
prop=$(root_propagation)
if rshared_by_init && [ "${prop#shared}" != "$prop" ]; then
	log "/ is already $prop (the init system mounts it shared at boot)"
else
	log "/ is not shared at boot by itself: making it rshared now and at every boot"
	rshared_at_boot
	mount --make-rshared /
fi
# The kubelet >= 1.35 refuses cgroup v1: the node boots with the unified hierarchy.
cgroup_v2_at_boot
log "modules, sysctls, rshared root and cgroup v2 configured"
