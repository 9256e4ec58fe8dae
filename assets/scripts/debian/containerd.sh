# shellcheck shell=sh
# Debian 12's containerd: 1.6.x with config version 2, the systemd cgroup driver (the kubelet is
# configured to match), the CNI plugins where containernetworking-plugins installs them. An
# explicit config is written (not edits of the packaged one).

CNI_DIR=/usr/lib/cni        # not upstream's /opt/cni/bin
CNI_CONF_DIR=/etc/cni/net.d
CONTAINERD_CONFIG=/etc/containerd/config.toml
T_CRI='[plugins."io.containerd.grpc.v1.cri"]'
T_CNI='[plugins."io.containerd.grpc.v1.cri".cni]'
T_RUNC='[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]'
T_RUNC_OPTS='[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]'

containerd_install() {
	pkg_add containerd runc containernetworking-plugins
	[ -d "$CNI_DIR" ] || die "$CNI_DIR does not exist after installing containernetworking-plugins"
}

# containerd_configure: writes $CONTAINERD_CONFIG, whole: every value the kubelet depends on is
# explicit rather than inherited from whatever the package shipped. runtime_type must be
# repeated: a [..runtimes.runc] table in the file REPLACES containerd's built-in runc entry, and
# without it the runtime type is empty. Debian's packaged config also sets the opt plugin path,
# kept here.
containerd_configure() {
	# The config below is version 2, which containerd 1.x reads; containerd 2.x wants version 3.
	_cver=$(containerd --version | awk '{ print $3 }')
	case "$_cver" in
	v1.* | 1.*) ;;
	*) die "containerd is '$_cver'; this script writes a version-2 config for containerd 1.x (Debian 12 ships 1.6)" ;;
	esac
	mkdir -p /etc/containerd
	write_file "$CONTAINERD_CONFIG" 644 <<TOML
# Written by homelab k8s-containerd.sh (containerd 1.x, config version 2).
version = 2

[plugins]
  $T_CRI
    sandbox_image = "$PAUSE_IMAGE"

    $T_CNI
      bin_dir = "$CNI_DIR"
      conf_dir = "$CNI_CONF_DIR"

    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"

      $T_RUNC
        runtime_type = "io.containerd.runc.v2"

        $T_RUNC_OPTS
          SystemdCgroup = true

  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
TOML
}

# containerd_checks DUMP: every setting the node relies on, in the effective config DUMP.
containerd_checks() {
	check "containerd cgroup driver $(cgroup_driver)" "$(toml_get "$1" "$T_RUNC_OPTS" SystemdCgroup)" true
	check "containerd runc runtime type" "$(toml_get "$1" "$T_RUNC" runtime_type)" io.containerd.runc.v2
	check "containerd sandbox image" "$(toml_get "$1" "$T_CRI" sandbox_image)" "$PAUSE_IMAGE"
	check "containerd CNI dir" "$(toml_get "$1" "$T_CNI" bin_dir)" "$CNI_DIR"
	check "containerd CNI config dir" "$(toml_get "$1" "$T_CNI" conf_dir)" "$CNI_CONF_DIR"
}
