# shellcheck shell=sh disable=SC2154 # failures: counted by lib/checks.sh, composed before this part
# The container runtime of a kubeadm node: the family's containerd (containerd.sh), configured,
# enabled and running, then the EFFECTIVE config (`containerd config dump`: the file merged with
# containerd's built-in defaults) is checked: a setting that did not take fails here.
# Env: PAUSE_IMAGE (required), e.g. registry.k8s.io/pause:3.10.1
set -eu

PAUSE_IMAGE="${PAUSE_IMAGE:-}"
[ -n "$PAUSE_IMAGE" ] || die "PAUSE_IMAGE is not set (expected an image reference like registry.k8s.io/pause:3.10.1)"
# It is written into a TOML string: no quotes, spaces or backslashes may reach it.
printf '%s\n' "$PAUSE_IMAGE" | grep -Eqx '[A-Za-z0-9][A-Za-z0-9._:/-]*:[A-Za-z0-9._-]+(@sha256:[0-9a-f]{64})?' \
	|| die "PAUSE_IMAGE '$PAUSE_IMAGE' is not an image reference like registry.k8s.io/pause:3.10.1"

containerd_install

containerd_configure
svc_enable containerd
svc_restart containerd

dump="/tmp/containerd-dump.$$"
trap 'rm -f "$dump"' EXIT
containerd config dump >"$dump" || die "'containerd config dump' failed: $CONTAINERD_CONFIG does not load"
containerd_checks "$dump"
[ "$failures" = 0 ] || die "the effective containerd config is wrong (see FAIL above); $CONTAINERD_CONFIG was not applied as intended"

# Wait for the daemon: kubeadm pulls images through its socket right after this step.
i=0
until ctr version >/dev/null 2>&1; do
	i=$((i + 1))
	[ "$i" -lt 30 ] || die "containerd did not answer on its socket within 30 s (see its log)"
	sleep 1
done
log "containerd configured ($(cgroup_driver) cgroups, sandbox $PAUSE_IMAGE, CNI $CNI_DIR) and running"
