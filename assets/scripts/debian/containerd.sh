# shellcheck shell=sh
# Debian's containerd: upstream's release, not Debian 12's package (containerd 1.6.20, which no
# current Kubernetes supports; containerd's RELEASES.md wants 2.2+ for Kubernetes 1.36). The
# release tarball's bin/ (containerd, containerd-shim-runc-v2, ctr) goes to /usr/local/bin and
# upstream's static runc to /usr/local/sbin/runc, each verified against its pinned sha256 before
# anything is installed; a systemd unit of homelab's own runs it. Config version 3 (containerd
# 2.x), the systemd cgroup driver (the kubelet is configured to match), the CNI plugins from
# Debian's containernetworking-plugins (only the plugins: they do not depend on containerd, and
# the package keeps them updated with the rest of the system).
# Env: CONTAINERD_VERSION, CONTAINERD_SHA256, RUNC_VERSION, RUNC_SHA256 (required: X.Y.Z and
#      the lowercase hex sha256 for this ARCH), ARCH (required, x86_64|aarch64),
#      CONTAINERD_DOWNLOAD_URL (optional, default https://github.com/containerd/containerd/releases/download),
#      RUNC_DOWNLOAD_URL (optional, default https://github.com/opencontainers/runc/releases/download)

CNI_DIR=/usr/lib/cni        # not upstream's /opt/cni/bin
CNI_CONF_DIR=/etc/cni/net.d
CONTAINERD_CONFIG=/etc/containerd/config.toml
CONTAINERD_UNIT=/etc/systemd/system/containerd.service
UNIT_MARK="# Written by homelab k8s-containerd.sh"
T_IMAGES="[plugins.'io.containerd.cri.v1.images'.pinned_images]"
T_CNI="[plugins.'io.containerd.cri.v1.runtime'.cni]"
T_RUNC="[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]"
T_RUNC_OPTS="[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]"

# release_version TEXT: X.Y.Z of a version string as the binaries print it: upstream's
# "v2.3.4", a distribution build's "2.1.9+unknown" or "1.1.5+ds1".
release_version() { printf '%s\n' "$1" | sed 's/^v//; s/[+~-].*//'; }
containerd_version() { release_version "$(containerd --version 2>/dev/null | awk '{ print $3 }')"; }
runc_version() { release_version "$(runc --version 2>/dev/null | awk 'NR == 1 { print $3 }')"; }

containerd_pins_valid() {
	for _v in CONTAINERD_VERSION RUNC_VERSION; do
		eval "_val=\${$_v:-}"
		# shellcheck disable=SC2154 # _val is set by the eval above
		printf '%s\n' "$_val" | grep -Eqx '[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}' || die "$_v '$_val' is not a release like 2.3.4"
	done
	for _v in CONTAINERD_SHA256 RUNC_SHA256; do
		eval "_val=\${$_v:-}"
		printf '%s\n' "$_val" | grep -Eqx '[0-9a-f]{64}' || die "$_v '$_val' is not a sha256 (64 lowercase hex digits)"
	done
	case "${ARCH:-}" in
	x86_64) goarch=amd64 ;;
	aarch64) goarch=arm64 ;;
	*) die "ARCH '${ARCH:-}' must be x86_64 or aarch64" ;;
	esac
	case "$CONTAINERD_VERSION" in 2.*) ;; *) die "CONTAINERD_VERSION $CONTAINERD_VERSION: this node writes a version-3 config, which needs containerd 2.x" ;; esac
	CONTAINERD_DOWNLOAD_URL="${CONTAINERD_DOWNLOAD_URL:-https://github.com/containerd/containerd/releases/download}"
	CONTAINERD_DOWNLOAD_URL="${CONTAINERD_DOWNLOAD_URL%/}"
	RUNC_DOWNLOAD_URL="${RUNC_DOWNLOAD_URL:-https://github.com/opencontainers/runc/releases/download}"
	RUNC_DOWNLOAD_URL="${RUNC_DOWNLOAD_URL%/}"
	is_url "$CONTAINERD_DOWNLOAD_URL" || die "CONTAINERD_DOWNLOAD_URL '$CONTAINERD_DOWNLOAD_URL' is not an http(s) URL"
	is_url "$RUNC_DOWNLOAD_URL" || die "RUNC_DOWNLOAD_URL '$RUNC_DOWNLOAD_URL' is not an http(s) URL"
}

# install_bin FILE DEST: FILE to DEST (mode 755) through a new name and a rename, so a running
# containerd never sees a half-written binary.
install_bin() {
	cp "$1" "$(dirname "$2")/.$(basename "$2").new"
	chmod 755 "$(dirname "$2")/.$(basename "$2").new"
	mv -f "$(dirname "$2")/.$(basename "$2").new" "$2"
}

containerd_install() {
	containerd_pins_valid
	# A unit of the same name that homelab did not write is the user's: never replaced.
	if [ -e "$CONTAINERD_UNIT" ] && ! grep -qF "$UNIT_MARK" "$CONTAINERD_UNIT"; then
		die "$CONTAINERD_UNIT exists and was not written by homelab; remove it to let homelab install containerd $CONTAINERD_VERSION"
	fi
	pkg_add curl ca-certificates tar gzip containernetworking-plugins
	[ -d "$CNI_DIR" ] || die "$CNI_DIR does not exist after installing containernetworking-plugins"

	_stage=$(mktemp -d /var/tmp/homelab-containerd.XXXXXX)
	_tgz="containerd-$CONTAINERD_VERSION-linux-$goarch.tar.gz"
	download "$CONTAINERD_DOWNLOAD_URL/v$CONTAINERD_VERSION/$_tgz" "$_stage/$_tgz"
	verify_sha256 "$_stage/$_tgz" "$CONTAINERD_SHA256" "$_tgz of containerd $CONTAINERD_VERSION"
	download "$RUNC_DOWNLOAD_URL/v$RUNC_VERSION/runc.$goarch" "$_stage/runc"
	verify_sha256 "$_stage/runc" "$RUNC_SHA256" "runc.$goarch of runc $RUNC_VERSION"
	mkdir "$_stage/x"
	tar -xzf "$_stage/$_tgz" -C "$_stage/x" bin/containerd bin/containerd-shim-runc-v2 bin/ctr \
		|| { rm -rf "$_stage"; die "$_tgz lacks bin/containerd, bin/containerd-shim-runc-v2 or bin/ctr"; }
	mkdir -p /usr/local/bin /usr/local/sbin
	for _bin in containerd containerd-shim-runc-v2 ctr; do install_bin "$_stage/x/bin/$_bin" "/usr/local/bin/$_bin"; done
	install_bin "$_stage/runc" /usr/local/sbin/runc
	rm -rf "$_stage"

	# What runs is what was pinned (PATH could hold another containerd or runc first).
	[ "$(containerd_version)" = "$CONTAINERD_VERSION" ] || die "containerd --version says '$(containerd --version 2>&1)', expected $CONTAINERD_VERSION"
	[ "$(runc_version)" = "$RUNC_VERSION" ] || die "runc --version says '$(runc --version 2>&1 | head -n 1)', expected $RUNC_VERSION"

	# Upstream's containerd.service, as homelab's own unit (containerd/containerd containerd.service
	# at v2.3.4): the daemon notifies systemd when ready; Delegate so the shims can manage their
	# cgroups; KillMode=process so a restart of containerd leaves the containers' shims running;
	# no NOFILE limit (upstream dropped LimitNOFILE=infinity: Go raises its own soft limit, and
	# containers inherit an unlimited one otherwise); never OOM-killed before the containers.
	mkdir -p "$(dirname "$CONTAINERD_UNIT")"
	write_file "$CONTAINERD_UNIT" 644 <<UNIT
$UNIT_MARK (containerd $CONTAINERD_VERSION from the upstream release).
[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target dbus.service

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
UNIT
	svc_reload
}

# containerd_configure: writes $CONTAINERD_CONFIG, whole (version 3): every value the kubelet
# depends on is explicit. runtime_type is repeated because a [..runtimes.runc] table in the file
# replaces containerd's built-in entry. containerd 2.0 has only the CNI bin_dir; 2.1 and later
# read bin_dirs (a list) and ignore an empty bin_dir (docs/cri/config.md).
containerd_configure() {
	case "$(containerd_version)" in
	2.0.*) _cni="bin_dir = '$CNI_DIR'" ;;
	2.*) _cni="bin_dirs = ['$CNI_DIR']" ;;
	*) die "containerd is '$(containerd_version)'; this node writes a version-3 config, which needs containerd 2.x" ;;
	esac
	mkdir -p /etc/containerd
	write_file "$CONTAINERD_CONFIG" 644 <<TOML
# Written by homelab k8s-containerd.sh (containerd 2.x, config version 3).
version = 3

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    $T_IMAGES
      sandbox = '$PAUSE_IMAGE'

  [plugins.'io.containerd.cri.v1.runtime']
    $T_CNI
      $_cni
      conf_dir = '$CNI_CONF_DIR'

    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'

      $T_RUNC
        runtime_type = 'io.containerd.runc.v2'

        $T_RUNC_OPTS
          SystemdCgroup = true
TOML
}

# containerd_checks DUMP: the pinned releases run, and every setting the node relies on is in
# the effective config DUMP (version 3: a v2 file would have been migrated, not taken as is).
containerd_checks() {
	check "containerd version" "$(containerd_version)" "${CONTAINERD_VERSION:-}"
	check "runc version" "$(runc_version)" "${RUNC_VERSION:-}"
	check "containerd config version" "$(awk '/^[[:space:]]*\[/ { exit } /^[[:space:]]*version[[:space:]]*=/ { sub(/^[^=]*=[[:space:]]*/, ""); print; exit }' "$1")" 3
	check "containerd cgroup driver $(cgroup_driver)" "$(toml_get "$1" "$T_RUNC_OPTS" SystemdCgroup)" true
	check "containerd runc runtime type" "$(toml_get "$1" "$T_RUNC" runtime_type)" io.containerd.runc.v2
	check "containerd sandbox image" "$(toml_get "$1" "$T_IMAGES" sandbox)" "$PAUSE_IMAGE"
	check_cni_bin_dir "$1" "$T_CNI" "$CNI_DIR"
	check "containerd CNI config dir" "$(toml_get "$1" "$T_CNI" conf_dir)" "$CNI_CONF_DIR"
}
