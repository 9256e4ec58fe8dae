#!/bin/sh
# containerd 2.x (config version 3) for a kubeadm node on Alpine/OpenRC: cgroupfs driver (OpenRC
# has no systemd), the pause image pinned, CNI plugins found in Alpine's /usr/libexec/cni.
# The settings are written into the packaged config (everything else it sets is kept), then the
# EFFECTIVE config (`containerd config dump`) is checked: a setting that did not take fails here.
# Env: PAUSE_IMAGE (required), e.g. registry.k8s.io/pause:3.10.1
set -eu

log() { printf 'k8s-containerd: %s\n' "$*"; }
die() { printf 'k8s-containerd: ERROR: %s\n' "$*" >&2; exit 1; }

PAUSE_IMAGE="${PAUSE_IMAGE:-}"
[ -n "$PAUSE_IMAGE" ] || die "PAUSE_IMAGE is not set (expected an image reference like registry.k8s.io/pause:3.10.1)"
# It is written into a TOML literal string: no quotes, spaces or backslashes may reach it.
printf '%s\n' "$PAUSE_IMAGE" | grep -Eqx '[A-Za-z0-9][A-Za-z0-9._:/-]*:[A-Za-z0-9._-]+(@sha256:[0-9a-f]{64})?' \
	|| die "PAUSE_IMAGE '$PAUSE_IMAGE' is not an image reference like registry.k8s.io/pause:3.10.1"

CNI_DIR=/usr/libexec/cni   # where Alpine's cni-plugins installs the plugins (not /opt/cni/bin)
CONFIG=/etc/containerd/config.toml
T_RUNC="[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]"
T_IMAGES="[plugins.'io.containerd.cri.v1.images'.pinned_images]"
T_CNI="[plugins.'io.containerd.cri.v1.runtime'.cni]"

# toml_get FILE TABLE KEY: the value of KEY directly under [TABLE], quotes removed. Table headers
# are compared without blanks and with " read as ', so `containerd config dump` output matches.
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

# toml_set FILE TABLE KEY VALUE: set KEY = VALUE (a TOML value, already quoted) under [TABLE]:
# replace the key if the table has it, add it to the table if not, add the table if missing.
toml_set() {
	awk -v want="$2" -v key="$3" -v val="$4" '
		function norm(s) { gsub(/[[:space:]]/, "", s); gsub(/"/, "\047", s); return s }
		function indent(s) { sub(/[^[:space:]].*$/, "", s); return s }
		# Blank lines inside the table are held back so an added key lands after the last key.
		function flush() { for (; blanks > 0; blanks--) print "" }
		function add() { print ind key " = " val; done = 1 }
		BEGIN { wantn = norm(want) }
		/^[[:space:]]*\[/ {
			if (intable && !done) add()
			flush()
			intable = (norm($0) == wantn)
			if (intable) { seen = 1; ind = indent($0) "  " }
			print; next
		}
		intable && /^[[:space:]]*$/ { blanks++; next }
		intable && !done {
			flush()
			line = $0; sub(/^[[:space:]]*/, "", line); ind = indent($0)
			if (index(line, key) == 1 && substr(line, length(key) + 1) ~ /^[[:space:]]*=/) { add(); next }
		}
		{ flush(); print }
		END {
			if (intable && !done) add()
			flush()
			if (!seen) { print ""; print want; print key " = " val }
		}' "$1" >"$1.edit" && mv -f "$1.edit" "$1"
}

apk add containerd containerd-ctr runc cni-plugins
[ -d "$CNI_DIR" ] || die "$CNI_DIR does not exist after installing cni-plugins"

# Start from the packaged config (Alpine generates it with the CNI path already moved to
# /usr/libexec/cni); regenerate the default only if the package no longer ships one.
mkdir -p /etc/containerd
work="$CONFIG.homelab.$$"
trap 'rm -f "$work" "$work.edit"' EXIT
if [ -s "$CONFIG" ]; then
	cp "$CONFIG" "$work"
else
	log "no packaged $CONFIG: starting from 'containerd config default'"
	containerd config default >"$work"
fi
version=$(awk '/^[[:space:]]*\[/ { exit } /^[[:space:]]*version[[:space:]]*=/ { sub(/^[^=]*=[[:space:]]*/, ""); print; exit }' "$work")
[ "$version" = 3 ] || die "$CONFIG has config version '${version:-none}'; expected version = 3 (containerd 2.x)"

toml_set "$work" "$T_RUNC" SystemdCgroup false
toml_set "$work" "$T_IMAGES" sandbox "'$PAUSE_IMAGE'"
# containerd >= 2.1 reads bin_dirs (a list) and ignores an empty bin_dir; 2.0 has only bin_dir.
if [ -n "$(toml_get "$work" "$T_CNI" bin_dirs)" ]; then
	toml_set "$work" "$T_CNI" bin_dirs "['$CNI_DIR']"
else
	toml_set "$work" "$T_CNI" bin_dir "'$CNI_DIR'"
fi
chmod 644 "$work"
mv -f "$work" "$CONFIG"
trap - EXIT

rc-update add cgroups default
rc-update add containerd default
if rc-service containerd status >/dev/null 2>&1; then
	rc-service containerd restart
else
	rc-service containerd start
fi

# The effective config is what containerd reads, merged with its built-in defaults.
dump="/tmp/containerd-dump.$$"
trap 'rm -f "$dump"' EXIT
containerd config dump >"$dump" || die "'containerd config dump' failed: $CONFIG does not load"
failed=0
got=$(toml_get "$dump" "$T_RUNC" SystemdCgroup)
if [ "$got" != false ]; then
	printf 'k8s-containerd: ERROR: cgroup driver did not take: SystemdCgroup is "%s" in the effective config, expected false (cgroupfs; OpenRC has no systemd)\n' "${got:-unset}" >&2
	failed=1
fi
got=$(toml_get "$dump" "$T_IMAGES" sandbox)
if [ "$got" != "$PAUSE_IMAGE" ]; then
	printf 'k8s-containerd: ERROR: sandbox image did not take: pinned_images.sandbox is "%s" in the effective config, expected "%s"\n' "${got:-unset}" "$PAUSE_IMAGE" >&2
	failed=1
fi
dirs=$(toml_get "$dump" "$T_CNI" bin_dirs)
dir=$(toml_get "$dump" "$T_CNI" bin_dir)
case "$dirs" in
*"'$CNI_DIR'"* | *"\"$CNI_DIR\""*) ;;
*)
	if [ "$dir" != "$CNI_DIR" ] || { [ -n "$dirs" ] && [ "$dirs" != "[]" ]; }; then
		printf 'k8s-containerd: ERROR: CNI directory did not take: bin_dirs=%s bin_dir=%s in the effective config, expected %s\n' "${dirs:-unset}" "${dir:-unset}" "$CNI_DIR" >&2
		failed=1
	fi
	;;
esac
[ "$failed" = 0 ] || die "the effective containerd config is wrong (see above); $CONFIG was not applied as intended"

# Wait for the daemon: kubeadm pulls images through its socket right after this script.
i=0
until ctr version >/dev/null 2>&1; do
	i=$((i + 1))
	[ "$i" -lt 30 ] || die "containerd did not answer on its socket within 30 s (see /var/log/containerd.log)"
	sleep 1
done
log "containerd configured (cgroupfs, sandbox $PAUSE_IMAGE, CNI $CNI_DIR) and running"
