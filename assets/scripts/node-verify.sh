#!/bin/sh
# Node verification (last before sysprep): one line per check, "ok   <check>" or
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

enabled() { rc-update show default 2>/dev/null | awk -v s="$1" '$1 == s { found = 1 } END { exit !found }'; }
running() { rc-service "$1" status >/dev/null 2>&1; }
check_enabled_not_started() {
	if enabled "$1"; then ok "$1 service enabled"; else fail "$1 service enabled" "$1 is not in the default runlevel"; fi
	if running "$1"; then fail "$1 service not started" "$1 is running (it must start only at provisioning)"; else ok "$1 service not started"; fi
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
	active=$(awk 'NR > 1 { print $1 }' /proc/swaps 2>/dev/null | tr '\n' ' ')
	if [ -z "$active" ]; then ok "no active swap"; else fail "no active swap" "active: $active"; fi
	entries=$(awk '!/^[[:space:]]*#/ && $3 == "swap" { print $1 }' /etc/fstab 2>/dev/null | tr '\n' ' ')
	if [ -z "$entries" ]; then ok "no swap in /etc/fstab"; else fail "no swap in /etc/fstab" "entries: $entries"; fi
	# Field 5 of mountinfo is the mount point; optional fields up to "-" carry "shared:N".
	root_prop=$(awk '$5 == "/" { p = "private"; for (i = 7; i <= NF && $i != "-"; i++) if ($i ~ /^shared:/) p = $i } END { print p }' /proc/self/mountinfo 2>/dev/null)
	case "$root_prop" in shared:*) ok "root mount shared" ;; *) fail "root mount shared" "/ is ${root_prop:-not found} in /proc/self/mountinfo" ;; esac
	if [ -x /etc/local.d/k8s-rshared.start ] && enabled local; then ok "root mount shared at boot"; else fail "root mount shared at boot" "/etc/local.d/k8s-rshared.start missing or the local service is not enabled"; fi
}

kubeadm_checks() {
	cfg_dump="/tmp/node-verify-dump.$$"
	if enabled containerd; then ok "containerd service enabled"; else fail "containerd service enabled" "not in the default runlevel"; fi
	if running containerd; then ok "containerd service running"; else fail "containerd service running" "rc-service containerd status says it is not started"; fi
	if containerd config dump >"$cfg_dump" 2>/dev/null; then
		check "containerd cgroup driver cgroupfs" "$(toml_get "$cfg_dump" "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]" SystemdCgroup)" false
		check "containerd sandbox image" "$(toml_get "$cfg_dump" "[plugins.'io.containerd.cri.v1.images'.pinned_images]" sandbox)" "$PAUSE_IMAGE"
		dirs=$(toml_get "$cfg_dump" "[plugins.'io.containerd.cri.v1.runtime'.cni]" bin_dirs)
		dir=$(toml_get "$cfg_dump" "[plugins.'io.containerd.cri.v1.runtime'.cni]" bin_dir)
		case "$dirs" in
		*"/usr/libexec/cni'"* | *'/usr/libexec/cni"'*) ok "containerd CNI dir" ;;
		*) check "containerd CNI dir" "${dir}" /usr/libexec/cni ;;
		esac
	else
		fail "containerd config" "'containerd config dump' failed"
	fi
	rm -f "$cfg_dump"
	[ "$K8S_BAKE" = none ] && return 0

	check_enabled_not_started kubelet
	check "kubeadm version" "$(kubeadm version -o short 2>/dev/null || echo 'does not run')" "$K8S_VERSION"
	check "/etc/kubernetes-version" "$(cat /etc/kubernetes-version 2>/dev/null || echo missing)" "$K8S_VERSION"
	if grep -q 'cgroupDriver: cgroupfs' /etc/kubernetes/kubeadm-config.yaml 2>/dev/null; then ok "kubelet cgroup driver cgroupfs for kubeadm"; else fail "kubelet cgroup driver cgroupfs for kubeadm" "/etc/kubernetes/kubeadm-config.yaml has no cgroupDriver: cgroupfs"; fi
	if grep -q '^runtime-endpoint: unix:///run/containerd/containerd.sock$' /etc/crictl.yaml 2>/dev/null; then ok "/etc/crictl.yaml"; else fail "/etc/crictl.yaml" "missing or not pointing at the containerd socket"; fi
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
	if enabled cgroups; then ok "cgroups service enabled"; else fail "cgroups service enabled" "not in the default runlevel"; fi
	# k3s runs its embedded containerd: a system containerd would be an unused second runtime.
	if enabled containerd; then fail "no system containerd enabled" "containerd is in the default runlevel"; else ok "no system containerd enabled"; fi
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
