#!/bin/sh
# containerd from Debian 12 (1.6.x, config version 2) for a kubeadm node on Debian/systemd:
# systemd cgroup driver (the kubelet is configured to match), the pause image pinned, CNI plugins
# found where Debian's containernetworking-plugins installs them (/usr/lib/cni).
# An explicit config is written (not edits of the packaged one), then the EFFECTIVE config
# (`containerd config dump`) is checked: a setting that did not take fails here.
# Env: PAUSE_IMAGE (required), e.g. registry.k8s.io/pause:3.10.1
set -eu

log() { printf 'k8s-containerd: %s\n' "$*"; }
die() { printf 'k8s-containerd: ERROR: %s\n' "$*" >&2; exit 1; }
write_file() {
	_tmp="$1.tmp.$$"
	cat >"$_tmp" || { rm -f "$_tmp"; die "cannot write $1"; }
	chmod "$2" "$_tmp"
	mv -f "$_tmp" "$1"
}

PAUSE_IMAGE="${PAUSE_IMAGE:-}"
[ -n "$PAUSE_IMAGE" ] || die "PAUSE_IMAGE is not set (expected an image reference like registry.k8s.io/pause:3.10.1)"
# It is written into a TOML basic string: no quotes, spaces or backslashes may reach it.
printf '%s\n' "$PAUSE_IMAGE" | grep -Eqx '[A-Za-z0-9][A-Za-z0-9._:/-]*:[A-Za-z0-9._-]+(@sha256:[0-9a-f]{64})?' \
	|| die "PAUSE_IMAGE '$PAUSE_IMAGE' is not an image reference like registry.k8s.io/pause:3.10.1"

CNI_DIR=/usr/lib/cni        # Debian's containernetworking-plugins (not upstream's /opt/cni/bin)
CNI_CONF_DIR=/etc/cni/net.d
CONFIG=/etc/containerd/config.toml
T_CRI='[plugins."io.containerd.grpc.v1.cri"]'
T_CNI='[plugins."io.containerd.grpc.v1.cri".cni]'
T_RUNC='[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]'
T_RUNC_OPTS='[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]'

# toml_get FILE TABLE KEY: the value of KEY directly under [TABLE], quotes removed. Table headers
# are compared without blanks and with " read as ', so any quoting style matches.
toml_get() {
	awk -v want="$2" -v key="$3" '
		function norm(s) { gsub(/[[:space:]]/, "", s); gsub(/"/, "\047", s); return s }
		BEGIN { want = norm(want) }
		/^[[:space:]]*\[/ { cur = norm($0); next }
		cur == want {
			line = $0; sub(/^[[:space:]]*/, "", line)
			if (index(line, key) != 1) next
			rest = substr(line, length(key) + 1)
			if (rest !~ /^[[:space:]]*=/) next
			sub(/^[[:space:]]*=[[:space:]]*/, "", rest); sub(/[[:space:]]+$/, "", rest)
			if (rest ~ /^\047.*\047$/ || rest ~ /^".*"$/) rest = substr(rest, 2, length(rest) - 2)
			print rest; exit
		}' "$1"
}

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends containerd runc containernetworking-plugins
[ -d "$CNI_DIR" ] || die "$CNI_DIR does not exist after installing containernetworking-plugins"

# The config below is version 2, which containerd 1.x reads; containerd 2.x wants version 3.
cver=$(containerd --version | awk '{ print $3 }')
case "$cver" in
v1.* | 1.*) ;;
*) die "containerd is '$cver'; this script writes a version-2 config for containerd 1.x (Debian 12 ships 1.6)" ;;
esac

# Written whole: every value the kubelet depends on is explicit here rather than inherited from
# whatever the package shipped. runtime_type must be repeated: a [..runtimes.runc] table in the
# file REPLACES containerd's built-in runc entry, and without it the runtime type is empty.
# Debian's packaged config also sets the opt plugin path, kept here.
mkdir -p /etc/containerd
write_file "$CONFIG" 644 <<TOML
# Written by homelab k8s-containerd.sh (containerd 1.x, config version 2).
version = 2

[plugins]
  $T_CRI
    sandbox_image = "$PAUSE_IMAGE"

    $T_CNI
      bin_dir = "$CNI_DIR"
      conf_dir = "$CNI_CONF_DIR"

    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"

      $T_RUNC
        runtime_type = "io.containerd.runc.v2"

        $T_RUNC_OPTS
          SystemdCgroup = true

  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
TOML

# Debian's postinst already started containerd with the packaged config: restart, not just start.
systemctl enable containerd
systemctl restart containerd

# The effective config is what containerd reads, merged with its built-in defaults.
dump="/tmp/containerd-dump.$$"
trap 'rm -f "$dump"' EXIT
containerd config dump >"$dump" || die "'containerd config dump' failed: $CONFIG does not load"
failed=0
# expect TABLE KEY WANT WHAT
expect() {
	_got=$(toml_get "$dump" "$1" "$2")
	if [ "$_got" != "$3" ]; then
		printf 'k8s-containerd: ERROR: %s did not take: %s is "%s" in the effective config, expected "%s"\n' "$4" "$2" "${_got:-unset}" "$3" >&2
		failed=1
	fi
}
expect "$T_RUNC_OPTS" SystemdCgroup true "cgroup driver (systemd, matching the kubelet)"
expect "$T_RUNC" runtime_type io.containerd.runc.v2 "runc runtime type"
expect "$T_CRI" sandbox_image "$PAUSE_IMAGE" "sandbox image"
expect "$T_CNI" bin_dir "$CNI_DIR" "CNI directory"
expect "$T_CNI" conf_dir "$CNI_CONF_DIR" "CNI config directory"
[ "$failed" = 0 ] || die "the effective containerd config is wrong (see above); $CONFIG was not applied as intended"

# Wait for the daemon: kubeadm pulls images through its socket right after this script.
i=0
until ctr version >/dev/null 2>&1; do
	i=$((i + 1))
	[ "$i" -lt 30 ] || die "containerd did not answer on its socket within 30 s (journalctl -u containerd)"
	sleep 1
done
log "containerd $cver configured (systemd cgroups, sandbox $PAUSE_IMAGE, CNI $CNI_DIR) and running"
