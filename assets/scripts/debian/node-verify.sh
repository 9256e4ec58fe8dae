#!/bin/sh
# Node verification on Debian/systemd (last before sysprep): one line per check, "ok   <check>" or
# "FAIL <check>: <what was found>"; every check runs; exits 1 if any failed, so the build fails.
# Env: K8S_DISTRIBUTION (required, kubeadm|k3s|none), K8S_BAKE (required, airgap|binary|none),
#      K8S_VERSION (kubeadm), K3S_VERSION (k3s, unless bake none), PAUSE_IMAGE (kubeadm), ARCH.
# It reads the state the other scripts leave: /etc/homelab/kubeadm-images.txt (kubeadm airgap)
# and /etc/homelab/k3s.sha256 (k3s).
set -u

K8S_DISTRIBUTION="${K8S_DISTRIBUTION:-}"
K8S_BAKE="${K8S_BAKE:-}"
K8S_VERSION="${K8S_VERSION:-}"
K3S_VERSION="${K3S_VERSION:-}"
PAUSE_IMAGE="${PAUSE_IMAGE:-}"
ARCH="${ARCH:-}"
CNI_DIR=/usr/lib/cni
failures=0

ok() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s: %s\n' "$1" "$2"; failures=$((failures + 1)); }
# check NAME FOUND EXPECTED
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "found '${2}', expected '${3}'"; fi; }

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

# systemctl prints the state (enabled/disabled/masked ..., active/inactive/failed ...).
unit_enabled() { systemctl is-enabled "$1" 2>/dev/null || true; }
unit_active() { systemctl is-active "$1" 2>/dev/null || true; }
check_enabled_not_started() {
	check "$1 service enabled" "$(unit_enabled "$1")" enabled
	state=$(unit_active "$1")
	case "$state" in
	active | activating | reloading) fail "$1 service not started" "$1 is $state (it must start only at provisioning)" ;;
	*) ok "$1 service not started" ;;
	esac
}
toml_get() {
	awk -v want="$2" -v key="$3" '
		function norm(s) { gsub(/[[:space:]]/, "", s); gsub(/"/, "\047", s); return s }
		BEGIN { want = norm(want) }
		/^[[:space:]]*\[/ { cur = norm($0); next }
		cur == want {
			line = $0; sub(/^[[:space:]]*/, "", line)
			if (index(line, key) != 1) next
			rest = substr(line, length(key) + 1)
			if (rest !~ /^[[:space:]]*=/) next
			sub(/^[[:space:]]*=[[:space:]]*/, "", rest); sub(/[[:space:]]+$/, "", rest)
			if (rest ~ /^\047.*\047$/ || rest ~ /^".*"$/) rest = substr(rest, 2, length(rest) - 2)
			print rest; exit
		}' "$1"
}
# sha_of FILE: its sha256, or "missing".
sha_of() { if [ -f "$1" ]; then sha256sum "$1" | awk '{ print $1 }'; else echo missing; fi; }

# --- kernel, swap, mounts: every node ---
kernel_checks() {
	for m in overlay br_netfilter; do
		if [ -d "/sys/module/$m" ] || awk -v m="$m" '$1 == m { f = 1 } END { exit !f }' /proc/modules 2>/dev/null; then
			ok "module $m loaded"
		else
			fail "module $m loaded" "not in /proc/modules"
		fi
		if grep -qx "$m" /etc/modules-load.d/k8s.conf 2>/dev/null; then ok "module $m loaded at boot"; else fail "module $m loaded at boot" "not in /etc/modules-load.d/k8s.conf"; fi
	done
	for kv in net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1 net.ipv4.ip_forward=1 \
		fs.inotify.max_user_instances=8192 fs.inotify.max_user_watches=524288; do
		key="${kv%%=*}"
		want="${kv#*=}"
		path="/proc/sys/$(printf '%s' "$key" | tr . /)"
		got=$(cat "$path" 2>/dev/null || echo unreadable)
		check "sysctl $key" "$got" "$want"
	done
	if grep -q 'net.ipv4.ip_forward = 1' /etc/sysctl.d/99-k8s.conf 2>/dev/null; then ok "sysctls applied at boot"; else fail "sysctls applied at boot" "/etc/sysctl.d/99-k8s.conf missing or incomplete"; fi
	active=$(awk 'NR > 1 { print $1 }' /proc/swaps 2>/dev/null | tr '\n' ' ')
	if [ -z "$active" ]; then ok "no active swap"; else fail "no active swap" "active: $active"; fi
	entries=$(awk '!/^[[:space:]]*#/ && $3 == "swap" { print $1 }' /etc/fstab 2>/dev/null | tr '\n' ' ')
	if [ -z "$entries" ]; then ok "no swap in /etc/fstab"; else fail "no swap in /etc/fstab" "entries: $entries"; fi
	if units=$(systemctl list-units --type=swap --state=active --no-legend --plain 2>/dev/null); then
		units=$(printf '%s\n' "$units" | awk '$1 ~ /\.swap$/ { printf "%s ", $1 }')
		if [ -z "$units" ]; then ok "no active swap units"; else fail "no active swap units" "active: $units"; fi
	else
		fail "no active swap units" "'systemctl list-units --type=swap' failed"
	fi
	prop=$(findmnt -n -o PROPAGATION / 2>/dev/null)
	case "$prop" in shared*) ok "root mount shared" ;; *) fail "root mount shared" "/ is '${prop:-not found}' (findmnt -o PROPAGATION /)" ;; esac
}

kubeadm_checks() {
	cfg_dump="/tmp/node-verify-dump.$$"
	check "containerd service enabled" "$(unit_enabled containerd)" enabled
	check "containerd service running" "$(unit_active containerd)" active
	if containerd config dump >"$cfg_dump" 2>/dev/null; then
		check "containerd cgroup driver systemd" "$(toml_get "$cfg_dump" '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]' SystemdCgroup)" true
		check "containerd runc runtime type" "$(toml_get "$cfg_dump" '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]' runtime_type)" io.containerd.runc.v2
		check "containerd sandbox image" "$(toml_get "$cfg_dump" '[plugins."io.containerd.grpc.v1.cri"]' sandbox_image)" "$PAUSE_IMAGE"
		check "containerd CNI dir" "$(toml_get "$cfg_dump" '[plugins."io.containerd.grpc.v1.cri".cni]' bin_dir)" "$CNI_DIR"
	else
		fail "containerd config" "'containerd config dump' failed"
	fi
	rm -f "$cfg_dump"
	if [ -x "$CNI_DIR/bridge" ] && [ -x "$CNI_DIR/loopback" ]; then ok "CNI plugins in $CNI_DIR"; else fail "CNI plugins in $CNI_DIR" "bridge or loopback missing"; fi
	[ "$K8S_BAKE" = none ] && return 0

	check_enabled_not_started kubelet
	check "kubeadm version" "$(kubeadm version -o short 2>/dev/null || echo 'does not run')" "$K8S_VERSION"
	check "/etc/kubernetes-version" "$(cat /etc/kubernetes-version 2>/dev/null || echo missing)" "$K8S_VERSION"
	if grep -q 'cgroupDriver: systemd' /etc/kubernetes/kubeadm-config.yaml 2>/dev/null; then ok "kubelet cgroup driver systemd for kubeadm"; else fail "kubelet cgroup driver systemd for kubeadm" "/etc/kubernetes/kubeadm-config.yaml has no cgroupDriver: systemd"; fi
	if grep -q 'KUBELET_KUBEADM_ARGS' /etc/systemd/system/kubelet.service.d/10-kubeadm.conf 2>/dev/null; then ok "kubelet kubeadm drop-in"; else fail "kubelet kubeadm drop-in" "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf missing or without KUBELET_KUBEADM_ARGS"; fi
	if grep -q '^runtime-endpoint: unix:///run/containerd/containerd.sock$' /etc/crictl.yaml 2>/dev/null; then ok "/etc/crictl.yaml"; else fail "/etc/crictl.yaml" "missing or not pointing at the containerd socket"; fi
	if command -v crictl >/dev/null 2>&1; then ok "crictl installed"; else fail "crictl installed" "not on PATH"; fi
	[ "$K8S_BAKE" = airgap ] || return 0

	expected=/etc/homelab/kubeadm-images.txt
	if [ ! -s "$expected" ]; then
		fail "pre-pulled images" "$expected is missing or empty"
		return 0
	fi
	# crictl prints IMAGE TAG IMAGE-ID SIZE; the reference is IMAGE:TAG.
	if ! actual=$(crictl images 2>/dev/null | awk 'NR > 1 && $2 != "<none>" { print $1 ":" $2 }' | sort -u); then
		fail "pre-pulled images" "'crictl images' failed"
		return 0
	fi
	missing=$(printf '%s\n' "$actual" | awk 'NR == FNR { have[$0] = 1; next } !($0 in have)' - "$expected" | tr '\n' ' ')
	extra=$(printf '%s\n' "$actual" | awk 'NR == FNR { want[$0] = 1; next } $0 != "" && !($0 in want)' "$expected" - | tr '\n' ' ')
	if [ -z "$missing" ] && [ -z "$extra" ]; then
		ok "pre-pulled images are exactly $(wc -l <"$expected") expected"
	else
		fail "pre-pulled images" "missing: ${missing:-none}; unexpected: ${extra:-none}"
	fi
}

k3s_checks() {
	# k3s runs its embedded containerd: a system containerd would be an unused second runtime.
	case "$(unit_enabled containerd)" in
	enabled | enabled-runtime | static | alias | indirect | generated) fail "no system containerd enabled" "containerd.service is $(unit_enabled containerd)" ;;
	*) ok "no system containerd enabled" ;;
	esac
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		for c in cpu memory pids; do
			if grep -qw "$c" /sys/fs/cgroup/cgroup.controllers; then ok "cgroup v2 controller $c"; else fail "cgroup v2 controller $c" "not in /sys/fs/cgroup/cgroup.controllers"; fi
		done
	fi
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
	[ "$K8S_BAKE" = airgap ] || return 0

	case "$ARCH" in aarch64) karch=arm64 ;; *) karch=amd64 ;; esac
	tarball="/var/lib/rancher/k3s/agent/images/k3s-airgap-images-$karch.tar.zst"
	want_img=$(awk -v f="$tarball" '$2 == f { print $1 }' "$record" 2>/dev/null)
	check "k3s air-gap images checksum" "$(sha_of "$tarball")" "${want_img:-no record in $record}"
}

kernel_checks
case "$K8S_DISTRIBUTION" in
kubeadm) kubeadm_checks ;;
k3s) k3s_checks ;;
none) ;;
esac

if [ "$failures" -gt 0 ]; then
	printf 'node-verify: %s check(s) failed\n' "$failures" >&2
	exit 1
fi
printf 'node-verify: all checks passed\n'
