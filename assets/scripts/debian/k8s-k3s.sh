#!/bin/sh
# k3s, air-gap capable, on Debian/systemd. The k3s binary (and with K8S_BAKE=airgap the air-gap
# image tarball) of the pinned K3S_VERSION is downloaded from the release and verified against the
# release's sha256sum-<arch>.txt; the systemd unit is written here, enabled, NOT started (a started
# k3s would bake cluster state into the image). k3s runs its EMBEDDED containerd, so no system
# containerd is installed. The upstream install script is not used (it would start k3s).
# Every bake, none included, first checks the cgroup setup k3s needs: on Debian 12 systemd mounts
# the unified cgroup v2 hierarchy and delegates a subtree to a unit with Delegate=yes (set in the
# unit below), so there is nothing to enable; only missing controllers are an error.
# Env: K3S_VERSION (required unless bake none, v1.X.Y+k3sN), K8S_BAKE (required, airgap|binary|none),
#      ARCH (required, x86_64|aarch64),
#      K3S_DOWNLOAD_URL (optional, default https://github.com/k3s-io/k3s/releases/download)
set -eu

log() { printf 'k8s-k3s: %s\n' "$*"; }
die() { printf 'k8s-k3s: ERROR: %s\n' "$*" >&2; exit 1; }
write_file() {
	_tmp="$1.tmp.$$"
	cat >"$_tmp" || { rm -f "$_tmp"; die "cannot write $1"; }
	chmod "$2" "$_tmp"
	mv -f "$_tmp" "$1"
}
download() { curl -fsSL --retry 3 -o "$2" "$1" || die "download failed: $1"; }
# verify FILE NAME SUMS: FILE's sha256 must equal the single entry for NAME in SUMS.
verify() {
	_expected=$(awk -v n="$2" '$2 == n || $2 == "*" n { print $1 }' "$3")
	[ -n "$_expected" ] || die "no entry for $2 in $SUMS_NAME of $K3S_VERSION"
	[ "$(printf '%s\n' "$_expected" | wc -l)" -eq 1 ] || die "several entries for $2 in $SUMS_NAME"
	printf '%s\n' "$_expected" | grep -Eqx '[0-9a-f]{64}' || die "entry for $2 in $SUMS_NAME is not a sha256: $_expected"
	_actual=$(sha256sum "$1" | awk '{ print $1 }')
	[ "$_actual" = "$_expected" ] || die "checksum mismatch for $2 of $K3S_VERSION: got $_actual, expected $_expected"
	log "verified $2 sha256 $_actual"
}

K3S_VERSION="${K3S_VERSION:-}"
K8S_BAKE="${K8S_BAKE:-}"
ARCH="${ARCH:-}"
K3S_DOWNLOAD_URL="${K3S_DOWNLOAD_URL:-https://github.com/k3s-io/k3s/releases/download}"
K3S_DOWNLOAD_URL="${K3S_DOWNLOAD_URL%/}"
BIN=/usr/local/bin/k3s
IMAGES_DIR=/var/lib/rancher/k3s/agent/images
RECORD=/etc/homelab/k3s.sha256
UNIT=/etc/systemd/system/k3s.service
CONTROLLERS=/sys/fs/cgroup/cgroup.controllers

case "$K8S_BAKE" in airgap | binary | none) ;; *) die "K8S_BAKE '$K8S_BAKE' must be airgap, binary or none" ;; esac
case "$ARCH" in
x86_64) karch=amd64 asset=k3s ;;
aarch64) karch=arm64 asset=k3s-arm64 ;;
*) die "ARCH '$ARCH' must be x86_64 or aarch64" ;;
esac

# k3s refuses to start without the cpu, memory and pids controllers ("failed to find memory
# cgroup"); with cgroup v2 they are listed at the root of the unified hierarchy.
if [ -f "$CONTROLLERS" ]; then
	for c in cpu memory pids; do
		grep -qw "$c" "$CONTROLLERS" || die "cgroup v2 controller '$c' is not available ($CONTROLLERS: $(cat "$CONTROLLERS")); k3s needs cpu, memory and pids"
	done
	log "cgroup v2 with cpu, memory and pids; systemd delegates them to k3s.service (Delegate=yes)"
else
	log "no unified cgroup v2 hierarchy at /sys/fs/cgroup: k3s will use cgroup v1"
fi
if [ "$K8S_BAKE" = none ]; then
	log "bake none: nothing to install; k3s is installed at provisioning time"
	exit 0
fi

printf '%s\n' "$K3S_VERSION" | grep -Eqx 'v1\.[0-9]{1,2}\.[0-9]{1,3}\+k3s[0-9]{1,2}' \
	|| die "K3S_VERSION '$K3S_VERSION' is not a k3s version like v1.35.9+k3s1"
printf '%s\n' "$K3S_DOWNLOAD_URL" | grep -Eqx 'https?://[A-Za-z0-9._~:/%+@-]+' \
	|| die "K3S_DOWNLOAD_URL '$K3S_DOWNLOAD_URL' is not an http(s) URL"

# A minimal Debian has neither curl nor wget.
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends curl ca-certificates

# The release tag's "+" must be percent-encoded in the path.
base="$K3S_DOWNLOAD_URL/$(printf '%s' "$K3S_VERSION" | sed 's/+/%2B/g')"
SUMS_NAME="sha256sum-$karch.txt"
images="k3s-airgap-images-$karch.tar.zst"

stage=$(mktemp -d /var/tmp/homelab-k3s.XXXXXX)
trap 'rm -rf "$stage"' EXIT
download "$base/$SUMS_NAME" "$stage/$SUMS_NAME"
download "$base/$asset" "$stage/$asset"
verify "$stage/$asset" "$asset" "$stage/$SUMS_NAME"
if [ "$K8S_BAKE" = airgap ]; then
	download "$base/$images" "$stage/$images"
	verify "$stage/$images" "$images" "$stage/$SUMS_NAME"
fi

# Everything is verified: install (each file renamed into place on its own filesystem).
mkdir -p /usr/local/bin
cp "$stage/$asset" "$BIN.new"
chmod 755 "$BIN.new"
mv -f "$BIN.new" "$BIN"
mkdir -p /etc/homelab
sha256sum "$BIN" >"$stage/record"
if [ "$K8S_BAKE" = airgap ]; then
	# k3s imports every tarball in this directory into its embedded containerd at start.
	mkdir -p "$IMAGES_DIR"
	cp "$stage/$images" "$IMAGES_DIR/.$images.new"
	chmod 644 "$IMAGES_DIR/.$images.new"
	mv -f "$IMAGES_DIR/.$images.new" "$IMAGES_DIR/$images"
	sha256sum "$IMAGES_DIR/$images" >>"$stage/record"
fi
write_file "$RECORD" 644 <"$stage/record"
printf '%s\n' "$K3S_VERSION" | write_file /etc/k3s-version 644

# The k3s multi-call binary is also kubectl, crictl and ctr (like the upstream installer does).
for cmd in kubectl crictl ctr; do
	if [ -e "/usr/local/bin/$cmd" ] && [ ! -L "/usr/local/bin/$cmd" ]; then
		log "/usr/local/bin/$cmd exists and is not a symlink: leaving it"
	else
		ln -sf k3s "/usr/local/bin/$cmd"
	fi
done

mkdir -p /etc/default /etc/systemd/system
write_file /etc/default/k3s 644 <<'CONF'
# Written by homelab k8s-k3s.sh. K3S_EXEC: server or agent. Other settings (token, server URL,
# node labels ...) belong in /etc/rancher/k3s/config.yaml, which k3s reads itself.
K3S_EXEC=server
K3S_OPTS=
CONF
write_file "$UNIT" 644 <<'UNIT'
# Written by homelab k8s-k3s.sh (k3s from the release binary; settings in /etc/default/k3s).
[Unit]
Description=Lightweight Kubernetes
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
EnvironmentFile=-/etc/default/k3s
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
systemctl daemon-reload
systemctl enable k3s
log "k3s $K3S_VERSION installed ($K8S_BAKE); service enabled, not started"
