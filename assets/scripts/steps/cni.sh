# shellcheck shell=sh
# The pod network of a kubeadm node (runs after k8s-kubeadm.sh): flannel's release manifest,
# verified against its pinned sha256 before anything is written, stored with what a cluster
# needs to apply it offline; with K8S_BAKE=airgap its images are pulled into containerd (as the
# control-plane images are) and node-verify.sh checks them against the recorded list.
# The pins must agree with the manifest they stand for: its image references are exactly
# CNI_IMAGES and its net-conf.json Network is POD_CIDR, or the step fails.
# Writes /etc/homelab/cni/: kube-flannel.yml, kube-flannel.yml.sha256 (sha256sum format),
# images.txt (sorted, one reference a line), pod-cidr (the podSubnet to give kubeadm), version.
# Env: CNI (required, flannel), CNI_VERSION (required, vX.Y.Z), CNI_MANIFEST_SHA256 (required,
#      64 hex), CNI_IMAGES (required, space-separated image references), POD_CIDR (required,
#      e.g. 10.244.0.0/16), K8S_BAKE (required, airgap|binary),
#      CNI_DOWNLOAD_URL (optional, default https://github.com/flannel-io/flannel/releases/download)
set -eu
set -f # CNI_IMAGES is split into words, never expanded as a pattern

CNI="${CNI:-}"
CNI_VERSION="${CNI_VERSION:-}"
CNI_MANIFEST_SHA256="${CNI_MANIFEST_SHA256:-}"
CNI_IMAGES="${CNI_IMAGES:-}"
POD_CIDR="${POD_CIDR:-}"
K8S_BAKE="${K8S_BAKE:-}"
CNI_DOWNLOAD_URL="${CNI_DOWNLOAD_URL:-https://github.com/flannel-io/flannel/releases/download}"
CNI_DOWNLOAD_URL="${CNI_DOWNLOAD_URL%/}"
CNI_RECORD=/etc/homelab/cni
# Where flannel's install-cni-plugin init container copies its plugin (a hostPath in the manifest).
FLANNEL_PLUGIN_DIR=/opt/cni/bin
stage=""
cleanup() { if [ -n "$stage" ]; then rm -rf "$stage"; fi; }
trap cleanup EXIT

[ "$CNI" = flannel ] || die "CNI '$CNI' must be flannel (cni none does not run this script)"
printf '%s\n' "$CNI_VERSION" | grep -Eqx 'v[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}' \
	|| die "CNI_VERSION '$CNI_VERSION' is not a flannel release like v0.28.9"
printf '%s\n' "$CNI_MANIFEST_SHA256" | grep -Eqx '[0-9a-f]{64}' || die "CNI_MANIFEST_SHA256 '$CNI_MANIFEST_SHA256' is not a sha256"
[ -n "$CNI_IMAGES" ] || die "CNI_IMAGES is not set (expected the manifest's image references)"
for image in $CNI_IMAGES; do
	printf '%s\n' "$image" | grep -Eqx '[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+:[A-Za-z0-9._-]+' \
		|| die "CNI_IMAGES entry '$image' is not an image reference like ghcr.io/flannel-io/flannel:v0.28.9"
done
printf '%s\n' "$POD_CIDR" | grep -Eqx '([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}' || die "POD_CIDR '$POD_CIDR' is not an IPv4 CIDR like 10.244.0.0/16"
case "$K8S_BAKE" in airgap | binary) ;; *) die "K8S_BAKE '$K8S_BAKE' must be airgap or binary (bake none does not run this script)" ;; esac
is_url "$CNI_DOWNLOAD_URL" || die "CNI_DOWNLOAD_URL '$CNI_DOWNLOAD_URL' is not an http(s) URL"

# flannel's init container writes its plugin to the host's /opt/cni/bin, but this family's
# containerd looks in $CNI_DIR: a link makes both the same directory. A directory already there
# is not homelab's, so it is left alone and the step fails.
if [ -L "$FLANNEL_PLUGIN_DIR" ]; then
	[ "$(readlink "$FLANNEL_PLUGIN_DIR")" = "$CNI_DIR" ] \
		|| die "$FLANNEL_PLUGIN_DIR links to $(readlink "$FLANNEL_PLUGIN_DIR"), not to $CNI_DIR where containerd looks for CNI plugins"
elif [ -e "$FLANNEL_PLUGIN_DIR" ]; then
	die "$FLANNEL_PLUGIN_DIR already exists (not made by homelab): flannel's plugin would land there, but containerd looks in $CNI_DIR; remove it or make it a link to $CNI_DIR"
fi

stage=$(mktemp -d /var/tmp/homelab-cni.XXXXXX)
url="$CNI_DOWNLOAD_URL/$CNI_VERSION/kube-flannel.yml"
download "$url" "$stage/kube-flannel.yml"
verify_sha256 "$stage/kube-flannel.yml" "$CNI_MANIFEST_SHA256" "$url"

# manifest_images FILE: every `image:` reference in a Kubernetes manifest, sorted, once each.
manifest_images() { sed -n 's/^[[:space:]-]*image:[[:space:]]*["'\'']\{0,1\}\([^"'\'' ]*\).*/\1/p' "$1" | sort -u; }
found=$(manifest_images "$stage/kube-flannel.yml")
# shellcheck disable=SC2086 # one reference per word
want=$(printf '%s\n' $CNI_IMAGES | sort -u)
[ "$found" = "$want" ] || die "kube-flannel.yml $CNI_VERSION names the images '$(printf '%s' "$found" | tr '\n' ' ')', not CNI_IMAGES '$CNI_IMAGES'"
network=$(sed -n 's/^[[:space:]]*"Network":[[:space:]]*"\([^"]*\)".*/\1/p' "$stage/kube-flannel.yml")
[ "$network" = "$POD_CIDR" ] || die "kube-flannel.yml $CNI_VERSION sets the pod network '${network:-none}', not POD_CIDR $POD_CIDR"

mkdir -p "$CNI_RECORD" /opt/cni
write_file "$CNI_RECORD/kube-flannel.yml" 644 <"$stage/kube-flannel.yml"
printf '%s  %s\n' "$CNI_MANIFEST_SHA256" "$CNI_RECORD/kube-flannel.yml" | write_file "$CNI_RECORD/kube-flannel.yml.sha256" 644
printf '%s\n' "$want" | write_file "$CNI_RECORD/images.txt" 644
printf '%s\n' "$POD_CIDR" | write_file "$CNI_RECORD/pod-cidr" 644
printf 'flannel %s\n' "$CNI_VERSION" | write_file "$CNI_RECORD/version" 644
[ -L "$FLANNEL_PLUGIN_DIR" ] || ln -s "$CNI_DIR" "$FLANNEL_PLUGIN_DIR"

if [ "$K8S_BAKE" = airgap ]; then
	# Through the CRI, into containerd's k8s.io namespace, where the kubelet looks (as kubeadm pulls).
	for image in $want; do crictl pull "$image"; done
	log "pulled the $(wc -l <"$CNI_RECORD/images.txt") flannel images; list in $CNI_RECORD/images.txt"
fi
log "flannel $CNI_VERSION manifest in $CNI_RECORD (pod network $POD_CIDR); $FLANNEL_PLUGIN_DIR -> $CNI_DIR"
