# shellcheck shell=sh
# kubeadm, kubelet, kubectl and crictl for a kubeadm node (runs after k8s-containerd.sh): the
# family's packages where they carry exactly K8S_VERSION (kubeadm_from_packages), otherwise the
# upstream release binaries from dl.k8s.io, each verified against its published .sha256 before
# anything is installed, into /usr/bin, run by the family's kubelet service. crictl: from the
# family's packages, else from the cri-tools GitHub release of the same minor (vX.Y.0; dl.k8s.io
# does not publish it), verified the same way. The kubelet is enabled but NOT started (kubeadm
# init/join starts it). With K8S_BAKE=airgap the control-plane images are pulled into containerd
# and their list is recorded for node-verify.sh.
# Env: K8S_VERSION (required, v1.X.Y), K8S_BAKE (required, airgap|binary), PAUSE_IMAGE (required),
#      ARCH (required, x86_64|aarch64), K8S_DOWNLOAD_URL (optional, default https://dl.k8s.io/release),
#      CRICTL_DOWNLOAD_URL (optional, default https://github.com/kubernetes-sigs/cri-tools/releases/download),
#      CRICTL_VERSION (optional, default v<minor of K8S_VERSION>.0)
set -eu

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

# fetch_verified URL FILE: URL into FILE, checked against URL.sha256 (a bare digest on
# dl.k8s.io, "digest  name" on cri-tools releases: the first field either way).
fetch_verified() {
	download "$1" "$2"
	download "$1.sha256" "$2.sha256"
	verify_sha256 "$2" "$(awk 'NR == 1 { print $1 }' "$2.sha256")" "$1"
}

if ! kubeadm_from_packages "$ver" "$minor"; then
	kubeadm_host_packages
	stage=$(mktemp -d /var/tmp/homelab-k8s.XXXXXX)
	# Verify everything before installing anything: a mismatch leaves nothing installed.
	bins="kubeadm kubelet kubectl"
	for bin in $bins; do
		fetch_verified "$K8S_DOWNLOAD_URL/$K8S_VERSION/bin/linux/$goarch/$bin" "$stage/$bin"
	done
	if ! crictl_from_packages; then
		crictl_tgz="crictl-$CRICTL_VERSION-linux-$goarch.tar.gz"
		fetch_verified "$CRICTL_DOWNLOAD_URL/$CRICTL_VERSION/$crictl_tgz" "$stage/$crictl_tgz"
		mkdir "$stage/crictl.d"
		tar -xzf "$stage/$crictl_tgz" -C "$stage/crictl.d" crictl || die "$crictl_tgz has no crictl"
		mv "$stage/crictl.d/crictl" "$stage/crictl"
		bins="$bins crictl"
	fi
	# /usr/bin: where the kubelet service and kubeadm's preflight look.
	for bin in $bins; do
		cp "$stage/$bin" "/usr/bin/.$bin.new"
		chmod 755 "/usr/bin/.$bin.new"
		mv -f "/usr/bin/.$bin.new" "/usr/bin/$bin"
	done
fi
got=$(kubeadm version -o short) || die "kubeadm does not run"
[ "$got" = "$K8S_VERSION" ] || die "installed kubeadm is $got, expected $K8S_VERSION"

kubelet_service

# kubeadm defaults the kubelet to the systemd cgroup driver; it is spelled out because it must
# match containerd's (cgroup_driver, see the family's containerd.sh). kubeadm turns the
# KubeletConfiguration into /var/lib/kubelet/config.yaml at `kubeadm init --config
# /etc/kubernetes/kubeadm-config.yaml`; joining nodes get it from the cluster.
minor_num=${minor#1.}
if [ "$minor_num" -ge 31 ]; then api=kubeadm.k8s.io/v1beta4; else api=kubeadm.k8s.io/v1beta3; fi
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
cgroupDriver: $(cgroup_driver)
YAML

write_file /etc/crictl.yaml 644 <<YAML
runtime-endpoint: $CRI_SOCKET
image-endpoint: $CRI_SOCKET
timeout: 10
YAML
printf '%s\n' "$K8S_VERSION" | write_file /etc/kubernetes-version 644

svc_reload
svc_enable kubelet

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
log "kubeadm $K8S_VERSION and crictl installed; kubelet enabled, not started"
