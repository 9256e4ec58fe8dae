#!/bin/sh
# kubeadm, kubelet, kubectl for a kubeadm node on Alpine/OpenRC (runs after k8s-containerd.sh).
# Alpine's community packages when the release ships exactly K8S_VERSION, otherwise the upstream
# binaries from dl.k8s.io, each verified against its published .sha256. The kubelet is enabled
# but NOT started (kubeadm init/join starts it). With K8S_BAKE=airgap the control-plane images
# are pulled into containerd and their list is recorded for node-verify.sh.
# Env: K8S_VERSION (required, v1.X.Y), K8S_BAKE (required, airgap|binary), PAUSE_IMAGE (required),
#      ARCH (required, x86_64|aarch64), K8S_DOWNLOAD_URL (optional, default https://dl.k8s.io/release)
set -eu

log() { printf 'k8s-kubeadm: %s\n' "$*"; }
die() { printf 'k8s-kubeadm: ERROR: %s\n' "$*" >&2; exit 1; }
write_file() {
	_tmp="$1.tmp.$$"
	cat >"$_tmp" || { rm -f "$_tmp"; die "cannot write $1"; }
	chmod "$2" "$_tmp"
	mv -f "$_tmp" "$1"
}
# download URL FILE: BusyBox wget on Alpine; curl where wget is missing. No -T: it crashes some
# BusyBox builds; a stalled download is bounded by the Packer provisioner timeout instead.
download() {
	if command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1" || die "download failed: $1"
	elif command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 3 -o "$2" "$1" || die "download failed: $1"
	else
		die "neither wget nor curl is available to download $1"
	fi
}

K8S_VERSION="${K8S_VERSION:-}"
K8S_BAKE="${K8S_BAKE:-}"
PAUSE_IMAGE="${PAUSE_IMAGE:-}"
ARCH="${ARCH:-}"
K8S_DOWNLOAD_URL="${K8S_DOWNLOAD_URL:-https://dl.k8s.io/release}"
K8S_DOWNLOAD_URL="${K8S_DOWNLOAD_URL%/}"
CRI_SOCKET=unix:///run/containerd/containerd.sock
RECORD_DIR=/etc/homelab
IMAGES_FILE="$RECORD_DIR/kubeadm-images.txt"
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
printf '%s\n' "$K8S_DOWNLOAD_URL" | grep -Eqx 'https?://[A-Za-z0-9._~:/%+@-]+' \
	|| die "K8S_DOWNLOAD_URL '$K8S_DOWNLOAD_URL' is not an http(s) URL"

ver="${K8S_VERSION#v}"
minor="${ver%.*}"

# What the release's community repository carries ("apk policy" lists versions ascending).
repo_version=$(apk policy kubeadm 2>/dev/null | awk '/^[[:space:]]+[0-9][^[:space:]]*:[[:space:]]*$/ { v = $1 } END { sub(/:$/, "", v); print v }')
repo_version="${repo_version%-r*}"

if [ "$repo_version" = "$ver" ]; then
	# Fuzzy pin: stays on this minor through Alpine's -rN rebuilds and patch updates.
	log "installing Kubernetes $ver from Alpine's community repository"
	apk add "kubeadm~=$minor" "kubelet~=$minor" "kubectl~=$minor" "kubelet-openrc~=$minor" cri-tools
else
	log "Alpine's repository has kubeadm '${repo_version:-none}', not $ver: using upstream binaries from $K8S_DOWNLOAD_URL"
	# kubelet-openrc depends only on openrc (not on the kubelet package), so it brings Alpine's
	# init script and conf.d without a conflicting kubelet. The rest are what the kubeadm and
	# kubelet packages would have pulled in.
	apk add kubelet-openrc cri-tools iptables iproute2 socat ethtool conntrack-tools
	stage=$(mktemp -d /var/tmp/homelab-k8s.XXXXXX)
	# Verify all three before installing any: a mismatch leaves nothing installed.
	for bin in kubeadm kubelet kubectl; do
		url="$K8S_DOWNLOAD_URL/$K8S_VERSION/bin/linux/$goarch/$bin"
		download "$url" "$stage/$bin"
		download "$url.sha256" "$stage/$bin.sha256"
		expected=$(awk 'NR == 1 { print $1 }' "$stage/$bin.sha256")
		printf '%s\n' "$expected" | grep -Eqx '[0-9a-f]{64}' || die "$url.sha256 does not hold a sha256 (got '$expected')"
		actual=$(sha256sum "$stage/$bin" | awk '{ print $1 }')
		[ "$actual" = "$expected" ] || die "checksum mismatch for $url: got $actual, expected $expected"
		log "verified $bin sha256 $actual"
	done
	# Alpine's kubelet init script runs /usr/bin/kubelet; kubeadm's preflight expects the same.
	for bin in kubeadm kubelet kubectl; do
		cp "$stage/$bin" "/usr/bin/.$bin.new"
		chmod 755 "/usr/bin/.$bin.new"
		mv -f "/usr/bin/.$bin.new" "/usr/bin/$bin"
	done
fi

[ -f /etc/init.d/kubelet ] || die "/etc/init.d/kubelet is missing: kubelet-openrc did not install"
initd_cmd=$(sed -n 's/^[[:space:]]*command=["'\'']\{0,1\}\([^"'\'' ]*\).*/\1/p' /etc/init.d/kubelet | head -n 1)
if [ -n "$initd_cmd" ] && [ ! -x "$initd_cmd" ]; then
	die "/etc/init.d/kubelet runs $initd_cmd, which is not an installed executable"
fi
got=$(kubeadm version -o short) || die "kubeadm does not run"
[ "$got" = "$K8S_VERSION" ] || die "installed kubeadm is $got, expected $K8S_VERSION"

# kubeadm defaults the kubelet to the systemd cgroup driver; OpenRC needs cgroupfs, matching
# containerd (SystemdCgroup = false) and Alpine's /etc/conf.d/kubelet (--cgroup-driver=cgroupfs).
# kubeadm writes /var/lib/kubelet/config.yaml (read by the init script via --config) from the
# KubeletConfiguration below at `kubeadm init --config /etc/kubernetes/kubeadm-config.yaml`;
# joining nodes get it from the cluster.
major_minor_num=${minor#1.}
if [ "$major_minor_num" -ge 31 ]; then api=kubeadm.k8s.io/v1beta4; else api=kubeadm.k8s.io/v1beta3; fi
mkdir -p /etc/kubernetes
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
cgroupDriver: cgroupfs
YAML

write_file /etc/crictl.yaml 644 <<YAML
runtime-endpoint: $CRI_SOCKET
image-endpoint: $CRI_SOCKET
timeout: 10
YAML
printf '%s\n' "$K8S_VERSION" | write_file /etc/kubernetes-version 644

rc-update add kubelet default

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
log "kubeadm $K8S_VERSION installed; kubelet enabled, not started"
