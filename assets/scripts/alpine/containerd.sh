# shellcheck shell=sh
# Alpine's containerd: 2.x with config version 3, cgroupfs (OpenRC has no systemd), the CNI
# plugins where Alpine's cni-plugins installs them. The packaged config is edited (everything
# else it sets is kept). Alpine keeps its packaged containerd (unlike Debian, which installs the
# upstream release): a release branch ships containerd and Kubernetes from the same aports tree
# (community/containerd next to community/kubernetes), and a containerd 1.x, which the Kubernetes
# minors homelab pins no longer get recommended, fails here on its config version (not 3).

CNI_DIR=/usr/libexec/cni   # not upstream's /opt/cni/bin
CONTAINERD_CONFIG=/etc/containerd/config.toml
T_RUNC="[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]"
T_IMAGES="[plugins.'io.containerd.cri.v1.images'.pinned_images]"
T_CNI="[plugins.'io.containerd.cri.v1.runtime'.cni]"

containerd_install() {
	pkg_add containerd containerd-ctr runc cni-plugins
	[ -d "$CNI_DIR" ] || die "$CNI_DIR does not exist after installing cni-plugins"
}

# containerd_configure: writes $CONTAINERD_CONFIG. Starts from the packaged config (Alpine
# generates it with the CNI path already moved to /usr/libexec/cni); from the default only if
# the package no longer ships one.
containerd_configure() {
	mkdir -p /etc/containerd
	_work="$CONTAINERD_CONFIG.homelab.$$"
	if [ -s "$CONTAINERD_CONFIG" ]; then
		cp "$CONTAINERD_CONFIG" "$_work"
	else
		log "no packaged $CONTAINERD_CONFIG: starting from 'containerd config default'"
		containerd config default >"$_work"
	fi
	_version=$(awk '/^[[:space:]]*\[/ { exit } /^[[:space:]]*version[[:space:]]*=/ { sub(/^[^=]*=[[:space:]]*/, ""); print; exit }' "$_work")
	[ "$_version" = 3 ] || { rm -f "$_work"; die "$CONTAINERD_CONFIG has config version '${_version:-none}'; expected version = 3 (containerd 2.x)"; }

	toml_set "$_work" "$T_RUNC" SystemdCgroup false
	toml_set "$_work" "$T_IMAGES" sandbox "'$PAUSE_IMAGE'"
	# containerd >= 2.1 reads bin_dirs (a list) and ignores an empty bin_dir; 2.0 has only bin_dir.
	if [ -n "$(toml_get "$_work" "$T_CNI" bin_dirs)" ]; then
		toml_set "$_work" "$T_CNI" bin_dirs "['$CNI_DIR']"
	else
		toml_set "$_work" "$T_CNI" bin_dir "'$CNI_DIR'"
	fi
	chmod 644 "$_work"
	mv -f "$_work" "$CONTAINERD_CONFIG"
	# containerd and the kubelet need the cgroup filesystem OpenRC's cgroups service sets up.
	svc_enable cgroups
}

# containerd_checks DUMP: every setting the node relies on, in the effective config DUMP.
containerd_checks() {
	check "containerd cgroup driver $(cgroup_driver)" "$(toml_get "$1" "$T_RUNC" SystemdCgroup)" false
	check "containerd sandbox image" "$(toml_get "$1" "$T_IMAGES" sandbox)" "$PAUSE_IMAGE"
	check_cni_bin_dir "$1" "$T_CNI" "$CNI_DIR"
}
