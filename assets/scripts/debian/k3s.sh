# shellcheck shell=sh disable=SC2154 # failures: counted by lib/checks.sh, composed before this part
# Debian's part of the k3s step: the cgroup v2 controllers k3s needs, and k3s's systemd unit. On
# Debian 12 systemd mounts the unified cgroup v2 hierarchy and delegates a subtree to a unit with
# Delegate=yes (set in the unit below), so there is nothing to enable; only missing controllers
# are an error. The upstream install script is not used (it would start k3s).

CONTROLLERS=/sys/fs/cgroup/cgroup.controllers

# k3s_host_checks: k3s refuses to start without the cpu, memory and pids controllers ("failed to
# find memory cgroup"); with cgroup v2 they are listed at the root of the unified hierarchy.
k3s_host_checks() {
	[ -f "$CONTROLLERS" ] || return 0
	for _c in cpu memory pids; do
		if grep -qw "$_c" "$CONTROLLERS"; then ok "cgroup v2 controller $_c"; else fail "cgroup v2 controller $_c" "not in $CONTROLLERS ($(cat "$CONTROLLERS"))"; fi
	done
}
k3s_host_prepare() {
	[ -f "$CONTROLLERS" ] || { log "no unified cgroup v2 hierarchy at /sys/fs/cgroup: k3s will use cgroup v1"; return 0; }
	k3s_host_checks
	[ "$failures" = 0 ] || die "cgroup v2 lacks controllers k3s needs (see FAIL above)"
}

# k3s_role_guard_ok: the service refuses to start until the node has its role.
k3s_role_guard_ok() { grep -qx 'ConditionPathExists=/etc/rancher/k3s/config.yaml' /etc/systemd/system/k3s.service 2>/dev/null && ! grep -qE '^K3S_EXEC=(server|agent)' /etc/default/k3s 2>/dev/null; }

# k3s_service: /etc/default/k3s and the k3s unit (the step enables it).
k3s_service() {
	mkdir -p /etc/default /etc/systemd/system
	write_file /etc/default/k3s 644 <<'CONF'
# Written by homelab k8s-k3s.sh. K3S_EXEC: server or agent, set when the node is provisioned
# (with /etc/rancher/k3s/config.yaml); until both are there, k3s does not start. Other settings
# (token, server URL, node name, labels ...) belong in config.yaml, which k3s reads itself.
K3S_EXEC=
K3S_OPTS=
CONF
	write_file /etc/systemd/system/k3s.service 644 <<'UNIT'
# Written by homelab k8s-k3s.sh (k3s from the release binary; settings in /etc/default/k3s).
[Unit]
Description=Lightweight Kubernetes
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target
# Every clone boots with the same hostname: k3s waits until provisioning has told it its role.
ConditionPathExists=/etc/rancher/k3s/config.yaml

[Service]
Type=notify
EnvironmentFile=-/etc/default/k3s
ExecStartPre=/bin/sh -c 'case "$$K3S_EXEC" in server | agent) ;; *) echo "k3s: K3S_EXEC in /etc/default/k3s is not server or agent" >&2; exit 1 ;; esac'
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/k3s $K3S_EXEC $K3S_OPTS
# k3s manages the cgroups of its pods itself: systemd hands it the subtree.
Delegate=yes
# Pods outlive a k3s restart: only the k3s process is stopped.
KillMode=process
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s

[Install]
WantedBy=multi-user.target
UNIT
}
