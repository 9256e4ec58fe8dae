# shellcheck shell=sh
# k3s, air-gap capable. The k3s binary (and with K8S_BAKE=airgap the air-gap image tarball) of
# the pinned K3S_VERSION is downloaded from the release and verified against the release's
# sha256sum-<arch>.txt; the family's k3s service is written, enabled, NOT started (a started k3s
# would bake cluster state into the image). k3s runs its EMBEDDED containerd, so no system
# containerd is installed. Every bake, none included, first prepares what k3s needs of the host
# (k3s_host_prepare); with K8S_BAKE=none that is all (k3s is installed at provisioning time).
# Env: K3S_VERSION (required unless bake none, v1.X.Y+k3sN), K8S_BAKE (required, airgap|binary|none),
#      ARCH (required, x86_64|aarch64),
#      K3S_DOWNLOAD_URL (optional, default https://github.com/k3s-io/k3s/releases/download)
set -eu

K3S_VERSION="${K3S_VERSION:-}"
K8S_BAKE="${K8S_BAKE:-}"
ARCH="${ARCH:-}"
K3S_DOWNLOAD_URL="${K3S_DOWNLOAD_URL:-https://github.com/k3s-io/k3s/releases/download}"
K3S_DOWNLOAD_URL="${K3S_DOWNLOAD_URL%/}"
BIN=/usr/local/bin/k3s
IMAGES_DIR=/var/lib/rancher/k3s/agent/images
RECORD=/etc/homelab/k3s.sha256

case "$K8S_BAKE" in airgap | binary | none) ;; *) die "K8S_BAKE '$K8S_BAKE' must be airgap, binary or none" ;; esac
case "$ARCH" in
x86_64) karch=amd64 asset=k3s ;;
aarch64) karch=arm64 asset=k3s-arm64 ;;
*) die "ARCH '$ARCH' must be x86_64 or aarch64" ;;
esac

k3s_host_prepare
if [ "$K8S_BAKE" = none ]; then
	log "bake none: host prepared; k3s is installed at provisioning time"
	exit 0
fi

printf '%s\n' "$K3S_VERSION" | grep -Eqx 'v1\.[0-9]{1,2}\.[0-9]{1,3}\+k3s[0-9]{1,2}' \
	|| die "K3S_VERSION '$K3S_VERSION' is not a k3s version like v1.35.9+k3s1"
is_url "$K3S_DOWNLOAD_URL" || die "K3S_DOWNLOAD_URL '$K3S_DOWNLOAD_URL' is not an http(s) URL"

ensure_downloader
# The release tag's "+" must be percent-encoded in the path.
base="$K3S_DOWNLOAD_URL/$(printf '%s' "$K3S_VERSION" | sed 's/+/%2B/g')"
sums="sha256sum-$karch.txt"
images="k3s-airgap-images-$karch.tar.zst"

stage=$(mktemp -d /var/tmp/homelab-k3s.XXXXXX)
trap 'rm -rf "$stage"' EXIT
download "$base/$sums" "$stage/$sums"
download "$base/$asset" "$stage/$asset"
expected=$(sums_entry "$stage/$sums" "$asset" "$sums of $K3S_VERSION")
verify_sha256 "$stage/$asset" "$expected" "$asset of $K3S_VERSION"
if [ "$K8S_BAKE" = airgap ]; then
	download "$base/$images" "$stage/$images"
	expected=$(sums_entry "$stage/$sums" "$images" "$sums of $K3S_VERSION")
	verify_sha256 "$stage/$images" "$expected" "$images of $K3S_VERSION"
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

k3s_service
svc_reload
svc_enable k3s
log "k3s $K3S_VERSION installed ($K8S_BAKE); service enabled, not started"
