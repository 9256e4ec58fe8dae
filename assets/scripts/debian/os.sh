# shellcheck shell=sh
# Debian 12: apt and systemd. alpine/os.sh defines the same names for apk and OpenRC; the step
# bodies call only these, never apt-get or systemctl directly.

export DEBIAN_FRONTEND=noninteractive
# cgroup_driver: the kubelet's and containerd's; systemd owns the cgroup tree here.
cgroup_driver() { echo systemd; }

# pkg_add PACKAGE...: install from the configured mirror (the index is refreshed first: a fresh
# image has none, and a stale one names packages the mirror no longer has).
pkg_add() {
	apt-get update
	apt-get install -y --no-install-recommends "$@"
}
# pkg_clean: no downloaded package left in the image.
pkg_clean() { apt-get clean; }
# ensure_downloader: a minimal Debian has neither curl nor wget.
ensure_downloader() { pkg_add curl ca-certificates; }

# svc_enable SERVICE: started at every boot; not started now.
svc_enable() { systemctl enable "$1"; }
# systemctl prints the state (enabled/disabled/masked ..., active/inactive/failed ...).
svc_enabled() {
	case "$(systemctl is-enabled "$1" 2>/dev/null)" in
	enabled | enabled-runtime | alias | indirect | generated | static) return 0 ;;
	*) return 1 ;;
	esac
}
svc_running() {
	case "$(systemctl is-active "$1" 2>/dev/null)" in
	active | activating | reloading) return 0 ;;
	*) return 1 ;;
	esac
}
# svc_restart SERVICE: running now, with the configuration just written (a package's postinst
# may already have started it with its own).
svc_restart() { systemctl restart "$1"; }
# svc_stop SERVICE: not running now (still enabled if it was).
svc_stop() { systemctl stop "$1"; }
# svc_log_tail SERVICE LINES: the end of the service's log, for a failure message.
svc_log_tail() { journalctl -u "$1" -n "$2" --no-pager 2>&1 || true; }
# svc_reload: systemd re-reads unit files (and re-runs its generators, fstab's included).
svc_reload() { systemctl daemon-reload; }

# swap_units: the active .swap units (from fstab, or found by systemd-gpt-auto-generator on a GPT
# swap partition without any fstab line). Listed before swapoff: afterwards they are inactive.
swap_units() {
	_units=$(systemctl list-units --type=swap --state=active --no-legend --plain) || return 1
	printf '%s\n' "$_units" | awk '$1 ~ /\.swap$/ { print $1 }'
}
# swap_units_disable UNIT...: a masked unit is never started again, whatever generator makes it.
swap_units_disable() {
	_masked=0
	for _unit in "$@"; do
		systemctl mask "$_unit"
		_masked=$((_masked + 1))
	done
	svc_reload
	log "masked $_masked active swap unit(s)"
}

# rshared_by_init: systemd (PID 1) mounts / shared at every boot.
rshared_by_init() { return 0; }
# rshared_at_boot: for a root something made private after all, a oneshot unit.
rshared_at_boot() {
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
	svc_reload
	svc_enable k8s-rshared.service
}
# rshared_at_boot_ok: systemd shares / at boot; a unit written by rshared_at_boot must be enabled.
rshared_at_boot_ok() { [ ! -e /etc/systemd/system/k8s-rshared.service ] || svc_enabled k8s-rshared.service; }

# ssh_host_keys_at_boot: Debian's ssh.service does not create missing host keys (only the
# openssh-server postinst does), and its `sshd -t` pre-check fails without them: a oneshot unit
# ordered before ssh runs `ssh-keygen -A` (creates only the missing key types) at every boot.
ssh_host_keys_at_boot() {
	mkdir -p /etc/systemd/system
	write_file /etc/systemd/system/ssh-host-keys.service 644 <<'UNIT'
# Written by homelab sysprep.sh: the box ships without SSH host keys; each clone makes its own.
[Unit]
Description=Generate missing SSH host keys
Before=ssh.service ssh.socket
ConditionPathExists=/usr/bin/ssh-keygen

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target ssh.service
UNIT
	svc_reload
	svc_enable ssh-host-keys.service
}

# build_login_off: the preseed gives root no password and leaves sshd's settings alone: nothing
# of the build's login to undo (the lock in sysprep still holds for a bring-your-own image).
build_login_off() { :; }

# machine_id_at_boot: systemd writes a new id into an empty /etc/machine-id at the first boot.
machine_id_at_boot() { :; }

# clone_identity_at_boot: every clone of the box booted with the build VM's DHCP client identity
# and host name. ifupdown's dhclient rewrites /var/lib/dhcp/dhclient.<if>.leases when the build VM
# shuts down, AFTER sysprep cleared it, and that file carries the DUID dhclient identifies itself
# with (default-duid): two clones then ask for, and may get, one address. So a oneshot unit runs
# once at a clone's first boot, before the network is configured (Before=network-pre.target, which
# networking.service and ifup@.service come after): it drops the leases and gives the clone a host
# name of its own (the base name and 8 hex digits of its new machine-id). A marker, not
# ConditionFirstBoot=, says "done": what counts as a first boot changed between systemd versions.
clone_identity_at_boot() {
	mkdir -p /etc/systemd/system /usr/local/sbin
	rm -f /var/lib/homelab/first-boot-done
	write_file /usr/local/sbin/homelab-first-boot 755 <<'SCRIPT'
#!/bin/sh
# Written by homelab sysprep.sh: run once by homelab-first-boot.service at a clone's first boot.
set -eu
marker=/var/lib/homelab/first-boot-done
[ ! -e "$marker" ] || exit 0
# The leases (and with them the DUID) of the build VM: this clone gets its own from the DHCP server.
rm -f /var/lib/dhcp/*.leases /var/lib/dhcp/*.lease
id=$(cut -c1-8 /etc/machine-id)
case "$id" in *[!0-9a-f]* | "") echo "homelab-first-boot: /etc/machine-id is not set yet" >&2; exit 1 ;; esac
base=$(cat /etc/hostname 2>/dev/null || echo node)
base=${base%%.*}
name="${base:-node}-$id"
echo "$name" >/etc/hostname
hostname "$name"
if grep -q '^127\.0\.1\.1[[:space:]]' /etc/hosts 2>/dev/null; then
	sed -i "s/^127\.0\.1\.1[[:space:]].*/127.0.1.1\t$name/" /etc/hosts
else
	printf '127.0.1.1\t%s\n' "$name" >>/etc/hosts
fi
mkdir -p /var/lib/homelab
: >"$marker"
SCRIPT
	write_file /etc/systemd/system/homelab-first-boot.service 644 <<'UNIT'
# Written by homelab sysprep.sh: each clone's own DHCP identity and host name, at its first boot.
[Unit]
Description=Give this clone its own DHCP identity and host name
DefaultDependencies=no
After=local-fs.target
Before=network-pre.target networking.service systemd-networkd.service NetworkManager.service shutdown.target
Wants=network-pre.target
Conflicts=shutdown.target
ConditionPathExists=!/var/lib/homelab/first-boot-done

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/homelab-first-boot
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
UNIT
	svc_reload
	svc_enable homelab-first-boot.service
}

# cgroup_v2_at_boot: systemd on Debian 12 mounts the unified cgroup v2 hierarchy by default.
cgroup_v2_at_boot() { :; }
# cgroup_v2_ok: the unified hierarchy is mounted (what every boot gives); else prints what it found.
cgroup_v2_ok() { [ -f /sys/fs/cgroup/cgroup.controllers ] || { echo "/sys/fs/cgroup is not the unified cgroup v2 hierarchy"; return 1; }; }
