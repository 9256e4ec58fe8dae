# shellcheck shell=sh
# Alpine's part of the k3s step: OpenRC's cgroups service, and k3s's OpenRC service. Neither the
# upstream install script nor Alpine's k3s package is used: both would own /etc/init.d/k3s.

# k3s_host_prepare: k3s needs the cgroup filesystem set up by OpenRC's cgroups service, baked or not.
k3s_host_prepare() { svc_enable cgroups; }
k3s_host_checks() {
	if svc_enabled cgroups; then ok "cgroups service enabled"; else fail "cgroups service enabled" "cgroups is not enabled at boot"; fi
}

# k3s_role_guard_ok: the service refuses to start until the node has its role.
k3s_role_guard_ok() { grep -q '/etc/rancher/k3s/config.yaml' /etc/init.d/k3s 2>/dev/null && ! grep -qE '^K3S_EXEC="?(server|agent)' /etc/conf.d/k3s 2>/dev/null; }

# k3s_service: /etc/conf.d/k3s and /etc/init.d/k3s (the step enables it).
k3s_service() {
	mkdir -p /etc/conf.d /etc/init.d
	write_file /etc/conf.d/k3s 644 <<'CONF'
# Written by homelab k8s-k3s.sh. K3S_EXEC: server or agent, set when the node is provisioned
# (with /etc/rancher/k3s/config.yaml); until both are there, k3s refuses to start. Other settings
# (token, server URL, node name, labels ...) belong in config.yaml, which k3s reads itself.
K3S_EXEC=""
K3S_OPTS=""
CONF
	write_file /etc/init.d/k3s 755 <<'INITD'
#!/sbin/openrc-run
# Written by homelab k8s-k3s.sh (k3s from the release binary; settings in /etc/conf.d/k3s).
name="k3s"
description="Lightweight Kubernetes"
supervisor=supervise-daemon
command=/usr/local/bin/k3s
command_args="${K3S_EXEC:-} ${K3S_OPTS:-}"
output_log=/var/log/k3s.log
error_log=/var/log/k3s.log
pidfile=/run/k3s.pid
respawn_delay=5
respawn_max=0

depend() {
	need cgroups
	after net network-online
	use dns
}

# Every clone of the box boots with the same hostname: started before provisioning told it its
# role, k3s would make server state (and a node password) under that name on each of them.
start_pre() {
	if [ ! -f /etc/rancher/k3s/config.yaml ]; then
		eerror "no /etc/rancher/k3s/config.yaml: this node has not been told its role yet"
		return 1
	fi
	case "${K3S_EXEC:-}" in server | agent) ;; *)
		eerror "K3S_EXEC in /etc/conf.d/k3s is '${K3S_EXEC:-}', not server or agent"
		return 1
		;;
	esac
	rm -f /tmp/k3s.*
}
INITD
}
