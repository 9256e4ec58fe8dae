#!/bin/sh
# kubeadm, kubelet, kubectl and crictl for a kubeadm node on Debian/systemd (runs after
# k8s-containerd.sh). The upstream release binaries, each verified against its published .sha256
# before anything is installed, into /usr/bin; a kubelet systemd unit with the kubeadm drop-in
# written here; the kubelet enabled but NOT started (kubeadm init/join starts it). With
# K8S_BAKE=airgap the control-plane images are pulled into containerd and their list is recorded
# for node-verify.sh.
# crictl: dl.k8s.io does not publish it; it comes from the cri-tools GitHub release of the same
# minor (vX.Y.0), verified against the release's .sha256.
# Env: K8S_VERSION (required, v1.X.Y), K8S_BAKE (required, airgap|binary), PAUSE_IMAGE (required),
#      ARCH (required, x86_64|aarch64), K8S_DOWNLOAD_URL (optional, default https://dl.k8s.io/release),
#      CRICTL_DOWNLOAD_URL (optional, default https://github.com/kubernetes-sigs/cri-tools/releases/download),
#      CRICTL_VERSION (optional, default v<minor of K8S_VERSION>.0)
set -eu

log() { printf 'k8s-kubeadm: %s\n' "$*"; }
die() { printf 'k8s-kubeadm: ERROR: %s\n' "$*" >&2; exit 1; }
write_file() {
	_tmp="$1.tmp.$$"
	cat >"$_tmp" || { rm -f "$_tmp"; die "cannot write $1"; }
	chmod "$2" "$_tmp"
	mv -f "$_tmp" "$1"
}
download() { curl -fsSL --retry 3 -o "$2" "$1" || die "download failed: $1"; }
# verify FILE SHAFILE URL: FILE's sha256 must be the first field of SHAFILE.
verify() {
	_expected=$(awk 'NR == 1 { print $1 }' "$2")
	printf '%s\n' "$_expected" | grep -Eqx '[0-9a-f]{64}' || die "$3.sha256 does not hold a sha256 (got '$_expected')"
	_actual=$(sha256sum "$1" | awk '{ print $1 }')
	[ "$_actual" = "$_expected" ] || die "checksum mismatch for $3: got $_actual, expected $_expected"
	log "verified $(basename "$3") sha256 $_actual"
}
is_url() { printf '%s\n' "$1" | grep -Eqx 'https?://[A-Za-z0-9._~:/%+@-]+'; }

K8S_VERSION="${K8S_VERSION:-}"
K8S_BAKE="${K8S_BAKE:-}"
PAUSE_IMAGE="${PAUSE_IMAGE:-}"
ARCH="${ARCH:-}"
K8S_DOWNLOAD_URL="${K8S_DOWNLOAD_URL:-https://dl.k8s.io/release}"
K8S_DOWNLOAD_URL="${K8S_DOWNLOAD_URL%/}"
CRICTL_DOWNLOAD_URL="${CRICTL_DOWNLOAD_URL:-https://github.com/kubernetes-sigs/cri-tools/releases/download}"
CRICTL_DOWNLOAD_URL="${CRICTL_DOWNLOAD_URL%/}"
CRI_SOCKET=unix:///run/containerd/containerd.sock
RECORD_DIR=/etc/homelab
IMAGES_FILE="$RECORD_DIR/kubeadm-images.txt"
UNIT_DIR=/etc/systemd/system
stage=""
list=""
cleanup() {
	if [ -n "$stage" ]; then rm -rf "$stage"; fi
	if [ -n "$list" ]; then rm -f "$list"; fi
}
trap cleanup EXIT

printf '%s\n' "$K8S_VERSION" | grep -Eqx 'v1\.[0-9]{1,2}\.[0-9]{1,3}' \
	|| die "K8S_VERSION '$K8S_VERSION' is not a Kubernetes version like v1.35.1"
case "$K8S_BAKE" in airgap | binary) ;; *) die "K8S_BAKE '$K8S_BAKE' must be airgap or binary (bake none does not run this script)" ;; esac
case "$ARCH" in
x86_64) goarch=amd64 ;;
aarch64) goarch=arm64 ;;
*) die "ARCH '$ARCH' must be x86_64 or aarch64" ;;
esac
[ -n "$PAUSE_IMAGE" ] || die "PAUSE_IMAGE is not set (expected an image reference like registry.k8s.io/pause:3.10.1)"
is_url "$K8S_DOWNLOAD_URL" || die "K8S_DOWNLOAD_URL '$K8S_DOWNLOAD_URL' is not an http(s) URL"
is_url "$CRICTL_DOWNLOAD_URL" || die "CRICTL_DOWNLOAD_URL '$CRICTL_DOWNLOAD_URL' is not an http(s) URL"

ver="${K8S_VERSION#v}"
minor="${ver%.*}"
CRICTL_VERSION="${CRICTL_VERSION:-v$minor.0}"
printf '%s\n' "$CRICTL_VERSION" | grep -Eqx 'v1\.[0-9]{1,2}\.[0-9]{1,3}' \
	|| die "CRICTL_VERSION '$CRICTL_VERSION' is not a cri-tools version like v1.35.0"

# What the kubeadm preflight checks and the kubelet need on the host, and curl for the downloads
# (a minimal Debian has neither curl nor wget).
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends curl ca-certificates iptables iproute2 socat ethtool conntrack tar gzip

stage=$(mktemp -d /var/tmp/homelab-k8s.XXXXXX)
# Verify everything before installing anything: a mismatch leaves nothing installed.
for bin in kubeadm kubelet kubectl; do
	url="$K8S_DOWNLOAD_URL/$K8S_VERSION/bin/linux/$goarch/$bin"
	download "$url" "$stage/$bin"
	download "$url.sha256" "$stage/$bin.sha256"
	verify "$stage/$bin" "$stage/$bin.sha256" "$url"
done
crictl_tgz="crictl-$CRICTL_VERSION-linux-$goarch.tar.gz"
url="$CRICTL_DOWNLOAD_URL/$CRICTL_VERSION/$crictl_tgz"
download "$url" "$stage/$crictl_tgz"
download "$url.sha256" "$stage/$crictl_tgz.sha256"
verify "$stage/$crictl_tgz" "$stage/$crictl_tgz.sha256" "$url"
mkdir "$stage/crictl"
tar -xzf "$stage/$crictl_tgz" -C "$stage/crictl" crictl || die "$crictl_tgz has no crictl"
mv "$stage/crictl/crictl" "$stage/crictl.bin"

# /usr/bin: where the kubelet unit below and kubeadm's preflight look.
for bin in kubeadm kubelet kubectl crictl; do
	src="$stage/$bin"
	[ "$bin" = crictl ] && src="$stage/crictl.bin"
	cp "$src" "/usr/bin/.$bin.new"
	chmod 755 "/usr/bin/.$bin.new"
	mv -f "/usr/bin/.$bin.new" "/usr/bin/$bin"
done
got=$(kubeadm version -o short) || die "kubeadm does not run"
[ "$got" = "$K8S_VERSION" ] || die "installed kubeadm is $got, expected $K8S_VERSION"

# The kubelet unit and the drop-in kubeadm relies on: kubeadm init/join writes
# /var/lib/kubelet/config.yaml (--config) and /var/lib/kubelet/kubeadm-flags.env
# (KUBELET_KUBEADM_ARGS), and the (bootstrap) kubeconfigs under /etc/kubernetes. Until then the
# kubelet would crash-loop, which is why it is enabled but not started.
mkdir -p "$UNIT_DIR/kubelet.service.d" /var/lib/kubelet /etc/kubernetes/manifests
write_file "$UNIT_DIR/kubelet.service" 644 <<'UNIT'
# Written by homelab k8s-kubeadm.sh (kubelet from the upstream release binary).
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target containerd.service

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
RestartSec=10
StartLimitInterval=0

[Install]
WantedBy=multi-user.target
UNIT
write_file "$UNIT_DIR/kubelet.service.d/10-kubeadm.conf" 644 <<'UNIT'
# Written by homelab k8s-kubeadm.sh: how kubeadm hands its settings to the kubelet.
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# Written by kubeadm init/join at runtime: KUBELET_KUBEADM_ARGS.
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# For the user: KUBELET_EXTRA_ARGS.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
UNIT

# kubeadm defaults the kubelet to the systemd cgroup driver; it is spelled out because it must
# match containerd (SystemdCgroup = true). kubeadm turns the KubeletConfiguration into
# /var/lib/kubelet/config.yaml at `kubeadm init --config /etc/kubernetes/kubeadm-config.yaml`.
minor_num=${minor#1.}
if [ "$minor_num" -ge 31 ]; then api=kubeadm.k8s.io/v1beta4; else api=kubeadm.k8s.io/v1beta3; fi
write_file /etc/kubernetes/kubeadm-config.yaml 644 <<YAML
# Written by homelab k8s-kubeadm.sh. Use: kubeadm init --config /etc/kubernetes/kubeadm-config.yaml
# (add your own settings, e.g. networking.podSubnet, to these documents).
apiVersion: $api
kind: InitConfiguration
nodeRegistration:
  criSocket: $CRI_SOCKET
---
apiVersion: $api
kind: ClusterConfiguration
kubernetesVersion: $K8S_VERSION
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
YAML

write_file /etc/crictl.yaml 644 <<YAML
runtime-endpoint: $CRI_SOCKET
image-endpoint: $CRI_SOCKET
timeout: 10
YAML
printf '%s\n' "$K8S_VERSION" | write_file /etc/kubernetes-version 644

systemctl daemon-reload
systemctl enable kubelet

mkdir -p "$RECORD_DIR"
if [ "$K8S_BAKE" = airgap ]; then
	list="/var/tmp/kubeadm-images.$$"
	# Always pass the version: without it kubeadm asks the internet for stable-1.
	kubeadm config images list --kubernetes-version "$K8S_VERSION" >"$list"
	[ -s "$list" ] || die "kubeadm config images list printed nothing for $K8S_VERSION"
	kubeadm config images pull --kubernetes-version "$K8S_VERSION" --cri-socket "$CRI_SOCKET"
	if ! grep -qxF "$PAUSE_IMAGE" "$list"; then
		# containerd's sandbox is pinned to PAUSE_IMAGE: it must be present offline too.
		log "WARNING: PAUSE_IMAGE $PAUSE_IMAGE is not kubeadm's pause image for $K8S_VERSION; pulling it as well"
		crictl pull "$PAUSE_IMAGE"
		printf '%s\n' "$PAUSE_IMAGE" >>"$list"
	fi
	sort -u "$list" | write_file "$IMAGES_FILE" 644
	log "pulled $(wc -l <"$IMAGES_FILE") images for $K8S_VERSION; list in $IMAGES_FILE"
else
	rm -f "$IMAGES_FILE"
fi
log "kubeadm $K8S_VERSION and crictl $CRICTL_VERSION installed; kubelet enabled, not started"
