# shellcheck shell=sh
# Alpine Linux: apk and OpenRC. debian/os.sh defines the same names for apt and systemd; the
# step bodies call only these, never apk or rc-update directly.

# cgroup_driver: the kubelet's and containerd's; OpenRC has no systemd, so cgroupfs.
cgroup_driver() { echo cgroupfs; }

# pkg_add PACKAGE...: install from the release's repositories (base.sh has run `apk update`).
pkg_add() { apk add "$@"; }
# pkg_clean: no downloaded package left in the image.
pkg_clean() { rm -rf /var/cache/apk/*; }
# ensure_downloader: BusyBox wget is part of every Alpine install.
ensure_downloader() { :; }

# svc_enable SERVICE: started at every boot (OpenRC's default runlevel); not started now.
svc_enable() { rc-update add "$1" default; }
svc_enabled() { rc-update show default 2>/dev/null | awk -v s="$1" '$1 == s { found = 1 } END { exit !found }'; }
svc_running() { rc-service "$1" status >/dev/null 2>&1; }
# svc_restart SERVICE: running now, with the configuration just written.
svc_restart() { if svc_running "$1"; then rc-service "$1" restart; else rc-service "$1" start; fi; }
# svc_stop SERVICE: not running now (still in its runlevel if it was).
svc_stop() { if svc_running "$1"; then rc-service "$1" stop; fi; }
# svc_log_tail SERVICE LINES: the end of the service's log: supervise-daemon's output_log
# (/var/log/<service>/<service>.log, as Alpine's kubelet init script sets it).
svc_log_tail() { tail -n "$2" "/var/log/$1/$1.log" 2>&1 || true; }
# svc_reload: OpenRC reads its init scripts at every call; there is nothing to reload.
svc_reload() { :; }

# swap_units / swap_units_disable UNIT...: OpenRC activates swap only from /etc/fstab.
swap_units() { :; }
swap_units_disable() { :; }

# rshared_by_init: OpenRC leaves / private, so the node must make it rshared at every boot.
rshared_by_init() { return 1; }
# rshared_at_boot: a service of its own, ordered before the ones that need an rshared root
# (`local` would run it after every other service of the runlevel, containerd included).
rshared_at_boot() {
	write_file /etc/init.d/k8s-rshared 755 <<'INITD'
#!/sbin/openrc-run
# Written by homelab k8s-kernel.sh: Kubernetes mount propagation needs an rshared root.
description="Make / rshared for Kubernetes mount propagation"

depend() {
	need localmount
	before containerd kubelet k3s
}

start() {
	ebegin "Making / rshared"
	mount --make-rshared /
	eend $?
}
INITD
	svc_enable k8s-rshared
}
# rshared_at_boot_ok: what rshared_at_boot set up is there.
rshared_at_boot_ok() { [ -x /etc/init.d/k8s-rshared ] && svc_enabled k8s-rshared; }

# ssh_host_keys_at_boot: Alpine's sshd service creates missing host keys (ssh-keygen -A) itself.
ssh_host_keys_at_boot() { :; }

# build_login_off: install.sh let Packer in as root with a password through its drop-in; the
# box must not keep it (sshd reads it at its next start: the build's session is not cut).
build_login_off() { rm -f /etc/ssh/sshd_config.d/10-homelab-build.conf; }

# clone_identity_at_boot: nothing to do; udhcpc keeps no lease or DUID on disk, and the host
# name is set when the clone is provisioned.
clone_identity_at_boot() { :; }

# machine_id_at_boot: sysprep leaves /etc/machine-id empty; systemd would fill it at the first
# boot, OpenRC does not (and nothing else on a node does: no dbus). A service ordered before the
# ones that read it gives each clone its own id once and keeps it after.
machine_id_at_boot() {
	write_file /etc/init.d/machine-id 755 <<'INITD'
#!/sbin/openrc-run
# Written by homelab sysprep.sh: the box ships with an empty /etc/machine-id; each clone makes its own.
description="Give this machine its own /etc/machine-id at its first boot"

depend() {
	need localmount
	before containerd kubelet k3s
}

start() {
	[ -s /etc/machine-id ] && return 0
	ebegin "Generating /etc/machine-id"
	id=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	[ ${#id} -eq 32 ] && printf '%s\n' "$id" >/etc/machine-id
	eend $?
}
INITD
	svc_enable machine-id
}

# cgroup_v2_at_boot: the kubelet >= 1.35 refuses cgroup v1; OpenRC mounts the hierarchy
# rc_cgroup_mode in /etc/rc.conf names (hybrid keeps v1 controllers): unified from the next boot
# on. Only that setting's line is rewritten; the rest of rc.conf stays as it is.
cgroup_v2_at_boot() {
	_rc=/etc/rc.conf
	[ -f "$_rc" ] || die "$_rc is missing: is OpenRC installed?"
	awk '
		/^[[:space:]]*#?[[:space:]]*rc_cgroup_mode=/ { if (!done) print "rc_cgroup_mode=\"unified\""; done = 1; next }
		{ print }
		END { if (!done) print "rc_cgroup_mode=\"unified\"" }' "$_rc" | write_file "$_rc" 644
}
# cgroup_v2_ok: the node boots with cgroup v2 (what cgroup_v2_at_boot set); else prints what it found.
cgroup_v2_ok() {
	_mode=$(sed -n 's/^[[:space:]]*rc_cgroup_mode="\{0,1\}\([a-z]*\).*/\1/p' /etc/rc.conf 2>/dev/null | tail -n 1)
	[ "$_mode" = unified ] || { echo "/etc/rc.conf: rc_cgroup_mode is '${_mode:-unset}', not unified"; return 1; }
}
