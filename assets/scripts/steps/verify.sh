# shellcheck shell=sh disable=SC2154 # failures: counted by lib/checks.sh, composed before this part
# Node verification (last before sysprep): one line per check, "ok   <check>" or
# "FAIL <check>: <what was found>"; every check runs; exits 1 if any failed, so the build fails.
# The checks are the family's own where the family does it its own way (containerd_checks,
# kubelet_service_checks, k3s_host_checks: the same functions its steps use).
# Env: K8S_DISTRIBUTION (required, kubeadm|k3s|none), K8S_BAKE (required, airgap|binary|none),
#      K8S_VERSION (kubeadm), K3S_VERSION (k3s, unless bake none), PAUSE_IMAGE (kubeadm), ARCH,
#      CNI (kubeadm: flannel|none, what k8s-cni.sh baked), CNI_MANIFEST_SHA256 (CNI flannel: the pin).
# It reads the state the other steps leave: /etc/homelab/kubeadm-images.txt (kubeadm airgap),
# /etc/homelab/cni/ (CNI flannel) and /etc/homelab/k3s.sha256 (k3s).
set -u

K8S_DISTRIBUTION="${K8S_DISTRIBUTION:-}"
K8S_BAKE="${K8S_BAKE:-}"
K8S_VERSION="${K8S_VERSION:-}"
K3S_VERSION="${K3S_VERSION:-}"
PAUSE_IMAGE="${PAUSE_IMAGE:-}"
ARCH="${ARCH:-}"
CNI="${CNI:-}"
CNI_MANIFEST_SHA256="${CNI_MANIFEST_SHA256:-}"
CNI_RECORD=/etc/homelab/cni

case "$K8S_DISTRIBUTION" in kubeadm | k3s | none) ;; *)
	fail "environment" "K8S_DISTRIBUTION '$K8S_DISTRIBUTION' is not kubeadm, k3s or none"
	exit 1
	;;
esac
case "$K8S_BAKE" in airgap | binary | none) ;; *)
	fail "environment" "K8S_BAKE '$K8S_BAKE' is not airgap, binary or none"
	exit 1
	;;
esac
case "$ARCH" in x86_64 | aarch64) ;; *) fail "environment" "ARCH '$ARCH' is not x86_64 or aarch64" ;; esac
if [ "$K8S_DISTRIBUTION" = kubeadm ]; then
	case "$CNI" in flannel | none) ;; *) fail "environment" "CNI '$CNI' is not flannel or none" ;; esac
	if [ "$CNI" = flannel ] && ! printf '%s\n' "$CNI_MANIFEST_SHA256" | grep -Eqx '[0-9a-f]{64}'; then
		fail "environment" "CNI_MANIFEST_SHA256 '$CNI_MANIFEST_SHA256' is not a sha256"
	fi
fi

# sha_of FILE: its sha256, or "missing".
sha_of() { if [ -f "$1" ]; then sha256sum "$1" | awk '{ print $1 }'; else echo missing; fi; }

# --- kernel, swap, mounts: every node (what k8s-kernel.sh and k8s-swap.sh promise) ---
SYSCTLS="net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1 net.ipv4.ip_forward=1 fs.inotify.max_user_instances=8192 fs.inotify.max_user_watches=524288"
kernel_checks() {
	for m in overlay br_netfilter; do
		if [ -d "/sys/module/$m" ] || awk -v m="$m" '$1 == m { f = 1 } END { exit !f }' /proc/modules 2>/dev/null; then
			ok "module $m loaded"
		else
			fail "module $m loaded" "not in /proc/modules"
		fi
		if grep -qx "$m" /etc/modules-load.d/k8s.conf 2>/dev/null; then ok "module $m loaded at boot"; else fail "module $m loaded at boot" "not in /etc/modules-load.d/k8s.conf"; fi
	done
	missing=""
	for kv in $SYSCTLS; do
		key="${kv%%=*}"
		want="${kv#*=}"
		path="/proc/sys/$(printf '%s' "$key" | tr . /)"
		got=$(cat "$path" 2>/dev/null || echo unreadable)
		check "sysctl $key" "$got" "$want"
		# The boot-time file must set it too, or a reboot loses it.
		awk -v k="$key" -v v="$want" -F '=' '{ gsub(/[[:space:]]/, "") } $1 == k && $2 == v { f = 1 } END { exit !f }' /etc/sysctl.d/99-k8s.conf 2>/dev/null \
			|| missing="$missing $key"
	done
	if [ -z "$missing" ]; then ok "sysctls applied at boot"; else fail "sysctls applied at boot" "/etc/sysctl.d/99-k8s.conf does not set:$missing"; fi
	active=$(awk 'NR > 1 { print $1 }' /proc/swaps 2>/dev/null | tr '\n' ' ')
	if [ -z "$active" ]; then ok "no active swap"; else fail "no active swap" "active: $active"; fi
	entries=$(awk '!/^[[:space:]]*#/ && $3 == "swap" { print $1 }' /etc/fstab 2>/dev/null | tr '\n' ' ')
	if [ -z "$entries" ]; then ok "no swap in /etc/fstab"; else fail "no swap in /etc/fstab" "entries: $entries"; fi
	if units=$(swap_units 2>/dev/null); then
		units=$(printf '%s\n' "$units" | tr '\n' ' ' | sed 's/ *$//')
		if [ -z "$units" ]; then ok "no active swap units"; else fail "no active swap units" "active: $units"; fi
	else
		fail "no active swap units" "the init system cannot list its swap units"
	fi
	prop=$(root_propagation)
	case "$prop" in shared*) ok "root mount shared" ;; *) fail "root mount shared" "/ is ${prop:-not found} in /proc/self/mountinfo" ;; esac
	if rshared_at_boot_ok; then ok "root mount shared at boot"; else fail "root mount shared at boot" "what k8s-kernel.sh set up for it is missing or not enabled"; fi
	if found=$(cgroup_v2_ok); then ok "cgroup v2"; else fail "cgroup v2" "$found"; fi
	# Vagrant's default synced folder (rsync on vagrant-libvirt) installs rsync in the guest
	# when it is missing, which needs a network the node may not have.
	if command -v rsync >/dev/null 2>&1; then ok "rsync installed"; else fail "rsync installed" "no rsync on PATH (Vagrant's default synced folder needs it)"; fi
}

kubeadm_checks() {
	if svc_enabled containerd; then ok "containerd service enabled"; else fail "containerd service enabled" "containerd is not enabled at boot"; fi
	if svc_running containerd; then ok "containerd service running"; else fail "containerd service running" "containerd is not running"; fi
	cfg_dump="/tmp/node-verify-dump.$$"
	if containerd config dump >"$cfg_dump" 2>/dev/null; then
		containerd_checks "$cfg_dump"
	else
		fail "containerd config" "'containerd config dump' failed"
	fi
	rm -f "$cfg_dump"
	if [ -x "$CNI_DIR/bridge" ] && [ -x "$CNI_DIR/loopback" ]; then ok "CNI plugins in $CNI_DIR"; else fail "CNI plugins in $CNI_DIR" "bridge or loopback missing"; fi
	[ "$K8S_BAKE" = none ] && return 0

	check_enabled_not_started kubelet
	kubelet_service_checks
	check "kubeadm version" "$(kubeadm version -o short 2>/dev/null || echo 'does not run')" "$K8S_VERSION"
	check "/etc/kubernetes-version" "$(cat /etc/kubernetes-version 2>/dev/null || echo missing)" "$K8S_VERSION"
	driver=$(cgroup_driver)
	if grep -q "cgroupDriver: $driver" /etc/kubernetes/kubeadm-config.yaml 2>/dev/null; then
		ok "kubelet cgroup driver $driver for kubeadm"
	else
		fail "kubelet cgroup driver $driver for kubeadm" "/etc/kubernetes/kubeadm-config.yaml has no cgroupDriver: $driver"
	fi
	if grep -q '^runtime-endpoint: unix:///run/containerd/containerd.sock$' /etc/crictl.yaml 2>/dev/null; then ok "/etc/crictl.yaml"; else fail "/etc/crictl.yaml" "missing or not pointing at the containerd socket"; fi
	if [ -x /usr/bin/crictl ]; then ok "crictl installed"; else fail "crictl installed" "/usr/bin/crictl is missing"; fi
	[ "$K8S_BAKE" = airgap ] || return 0

	recorded=/etc/homelab/kubeadm-images.txt
	if [ ! -s "$recorded" ]; then
		fail "pre-pulled images" "$recorded is missing or empty"
		return 0
	fi
	# The control-plane images and, with a baked CNI, its images (k8s-cni.sh pulls them too).
	expected="/tmp/node-verify-images.$$"
	if [ "$CNI" = flannel ]; then
		if [ -s "$CNI_RECORD/images.txt" ]; then
			sort -u "$recorded" "$CNI_RECORD/images.txt" >"$expected"
		else
			fail "pre-pulled CNI images" "$CNI_RECORD/images.txt is missing or empty"
			sort -u "$recorded" >"$expected"
		fi
	else
		sort -u "$recorded" >"$expected"
	fi
	# crictl prints IMAGE TAG IMAGE-ID SIZE; the reference is IMAGE:TAG.
	if ! actual=$(crictl images 2>/dev/null | awk 'NR > 1 && $2 != "<none>" { print $1 ":" $2 }' | sort -u); then
		fail "pre-pulled images" "'crictl images' failed"
		rm -f "$expected"
		return 0
	fi
	missing=$(printf '%s\n' "$actual" | awk 'NR == FNR { have[$0] = 1; next } !($0 in have)' - "$expected" | tr '\n' ' ')
	extra=$(printf '%s\n' "$actual" | awk 'NR == FNR { want[$0] = 1; next } $0 != "" && !($0 in want)' "$expected" - | tr '\n' ' ')
	if [ -z "$missing" ] && [ -z "$extra" ]; then
		ok "pre-pulled images are exactly $(wc -l <"$expected") expected"
	else
		fail "pre-pulled images" "missing: ${missing:-none}; unexpected: ${extra:-none}"
	fi
	rm -f "$expected"
}

# flannel as k8s-cni.sh leaves it: the manifest is the pinned one (its checksum, and the record
# of it), the recorded images and pod network are the manifest's, flannel's plugin directory is
# where containerd looks, and the plugins its network config chains (flannel delegates to bridge
# with host-local addresses; portmap) are installed.
cni_checks() {
	manifest="$CNI_RECORD/kube-flannel.yml"
	if [ ! -f "$manifest" ]; then
		fail "CNI manifest" "$manifest is missing"
		return 0
	fi
	check "CNI manifest checksum" "$(sha_of "$manifest")" "$CNI_MANIFEST_SHA256"
	recorded=$(awk -v f="$manifest" '$2 == f { print $1 }' "$manifest.sha256" 2>/dev/null)
	check "CNI manifest checksum recorded" "${recorded:-no record in $manifest.sha256}" "$CNI_MANIFEST_SHA256"
	images=$(sed -n 's/^[[:space:]-]*image:[[:space:]]*["'\'']\{0,1\}\([^"'\'' ]*\).*/\1/p' "$manifest" | sort -u | tr '\n' ' ')
	check "CNI image list" "$(sort -u "$CNI_RECORD/images.txt" 2>/dev/null | tr '\n' ' ')" "$images"
	network=$(sed -n 's/^[[:space:]]*"Network":[[:space:]]*"\([^"]*\)".*/\1/p' "$manifest")
	check "pod network CIDR recorded" "$(cat "$CNI_RECORD/pod-cidr" 2>/dev/null || echo missing)" "${network:-none in the manifest}"
	check "flannel plugin directory /opt/cni/bin" "$(readlink /opt/cni/bin 2>/dev/null || echo 'not a link')" "$CNI_DIR"
	missing=""
	for plugin in bridge host-local portmap; do [ -x "$CNI_DIR/$plugin" ] || missing="$missing $plugin"; done
	if [ -z "$missing" ]; then ok "CNI plugins flannel chains in $CNI_DIR"; else fail "CNI plugins flannel chains in $CNI_DIR" "missing:$missing"; fi
}

k3s_checks() {
	k3s_host_checks
	# k3s runs its embedded containerd: a system containerd would be an unused second runtime.
	if svc_enabled containerd; then fail "no system containerd enabled" "containerd is enabled at boot"; else ok "no system containerd enabled"; fi
	[ "$K8S_BAKE" = none ] && return 0

	record=/etc/homelab/k3s.sha256
	want_bin=$(awk '$2 == "/usr/local/bin/k3s" { print $1 }' "$record" 2>/dev/null)
	check "k3s binary checksum" "$(sha_of /usr/local/bin/k3s)" "${want_bin:-no record in $record}"
	version_line=$(/usr/local/bin/k3s --version 2>/dev/null | head -n 1)
	case "$version_line" in
	*"$K3S_VERSION "*) ok "k3s version $K3S_VERSION" ;;
	*) fail "k3s version $K3S_VERSION" "k3s --version says '${version_line:-nothing}'" ;;
	esac
	check_enabled_not_started k3s
	# Each clone must get its role (and its config.yaml) at provisioning, never from the image.
	if [ -e /etc/rancher/k3s/config.yaml ]; then
		fail "k3s waits for its role" "/etc/rancher/k3s/config.yaml is in the image"
	elif k3s_role_guard_ok; then
		ok "k3s waits for its role"
	else
		fail "k3s waits for its role" "its service would start before provisioning sets a role (and writes /etc/rancher/k3s/config.yaml)"
	fi
	[ "$K8S_BAKE" = airgap ] || return 0

	case "$ARCH" in aarch64) karch=arm64 ;; *) karch=amd64 ;; esac
	tarball="/var/lib/rancher/k3s/agent/images/k3s-airgap-images-$karch.tar.zst"
	want_img=$(awk -v f="$tarball" '$2 == f { print $1 }' "$record" 2>/dev/null)
	check "k3s air-gap images checksum" "$(sha_of "$tarball")" "${want_img:-no record in $record}"
}

kernel_checks
case "$K8S_DISTRIBUTION" in
kubeadm)
	kubeadm_checks
	if [ "$CNI" = flannel ]; then cni_checks; fi
	;;
k3s) k3s_checks ;;
none) ;;
esac

if [ "$failures" -gt 0 ]; then
	printf '%s: %s check(s) failed\n' "$STEP" "$failures" >&2
	exit 1
fi
log "all checks passed"
