# shellcheck shell=sh
# The boot check (k8s-boot-check.sh): after node-verify and before sysprep, Kubernetes is booted once
# inside the build, OFFLINE (outbound traffic rejected except the build's own SSH session), from
# what the image holds, then taken down again and every trace of it removed, so the box ships as
# if it had never run. Any failure fails the build with the end of the kubelet's (kubeadm) or
# k3s's log quoted.
# - kubeadm: `kubeadm init --config /etc/kubernetes/kubeadm-config.yaml` (the baked config), the
#   API server answers /readyz and the node is registered; `kubeadm reset -f`, then what reset
#   leaves behind goes too. The image list (crictl) must be the same before and after: nothing
#   was pulled.
# - k3s: `k3s server` from the baked binary and airgap images until the node is Ready; stopped,
#   its pods' shims killed, its mounts and interfaces removed, its state, node password and
#   imported images (containerd's store) removed. The baked image tarballs must be unchanged.
# Firewall: iptables-save before, iptables-restore after (kube-proxy and flannel add chains).
# Env: K8S_DISTRIBUTION (required, kubeadm|k3s), BOOT_TIMEOUT (optional, seconds for the API or
#      the node to come up, default 900: TCG builds are slow).
set -eu

DIST="${K8S_DISTRIBUTION:-}"
BOOT_TIMEOUT="${BOOT_TIMEOUT:-900}"
case "$DIST" in kubeadm | k3s) ;; *) die "K8S_DISTRIBUTION '$DIST' must be kubeadm or k3s" ;; esac
printf '%s\n' "$BOOT_TIMEOUT" | grep -Eqx '[0-9]{1,5}' || die "BOOT_TIMEOUT '$BOOT_TIMEOUT' is not a number of seconds"

KUBECONFIG_ADMIN=/etc/kubernetes/admin.conf
K3S_DIR=/var/lib/rancher/k3s
# What kubeadm init (and the kubelet, kube-proxy) create and `kubeadm reset -f` may leave.
KUBEADM_TRACES="/etc/kubernetes/manifests /etc/kubernetes/pki /etc/kubernetes/tmp /etc/kubernetes/admin.conf
/etc/kubernetes/super-admin.conf /etc/kubernetes/kubelet.conf /etc/kubernetes/controller-manager.conf
/etc/kubernetes/scheduler.conf /var/lib/etcd /var/lib/kubelet /var/lib/cni /etc/cni/net.d /run/flannel /root/.kube"
# What a k3s server creates outside its data directory (whose new entries are traces too).
K3S_TRACES="/etc/rancher/k3s/k3s.yaml /etc/rancher/node /run/k3s /var/lib/kubelet /var/lib/cni /run/flannel /var/lib/rancher/k3s/server
/var/lib/rancher/k3s/data /var/lib/rancher/k3s/agent/containerd /var/lib/rancher/k3s/agent/etc /root/.kube"

work=$(mktemp -d /var/tmp/homelab-boot.XXXXXX)
k3s_pid=""
proven=""
fw_saved=""

node_name() { tr '[:upper:]' '[:lower:]' </proc/sys/kernel/hostname; }

# absent_before PATHS: the ones that do not exist now (only those are removed afterwards: what
# existed before the proof is not the proof's to remove).
absent_before() { for _p in $1; do if [ ! -e "$_p" ]; then echo "$_p"; fi; done >"$work/absent"; }

# remove_traces: every path that was absent before the proof is absent again.
remove_traces() {
	while read -r _p; do
		[ -e "$_p" ] || continue
		# Mounts below it (pod volumes, the kubelet's tmpfs) first, deepest first.
		awk -v p="$_p" '$2 == p || index($2, p "/") == 1 { print $2 }' /proc/self/mounts 2>/dev/null | sort -r | while read -r _m; do umount "$_m" 2>/dev/null || umount -l "$_m" 2>/dev/null || true; done
		rm -rf "$_p"
	done <"$work/absent"
	_left=$(while read -r _p; do if [ -e "$_p" ]; then echo "$_p"; fi; done <"$work/absent")
	# shellcheck disable=SC2086 # the paths (no blanks in any) one after another on one line
	[ -z "$_left" ] || { printf '%s: ERROR: left behind by the boot check: %s\n' "$STEP" "$(printf '%s ' $_left)" >&2; return 1; }
}

firewall_save() {
	iptables-save >"$work/iptables" && fw_saved=1
	if command -v ip6tables-save >/dev/null 2>&1; then ip6tables-save >"$work/ip6tables"; fi
}
# firewall_restore: the rules as they were before the proof (offline chain, kube-proxy's and
# flannel's chains all gone).
firewall_restore() {
	offline_off
	[ -n "$fw_saved" ] || return 0
	iptables-restore <"$work/iptables"
	if [ -s "$work/ip6tables" ]; then ip6tables-restore <"$work/ip6tables"; fi
}

# quote_log: the end of the log that says why Kubernetes did not come up.
quote_log() {
	printf '%s: --- last lines of the %s log ---\n' "$STEP" "$([ "$DIST" = k3s ] && echo k3s || echo kubelet)" >&2
	if [ "$DIST" = k3s ]; then tail -n 40 "$work/k3s.log" >&2 2>/dev/null || true; else svc_log_tail kubelet 40 >&2; fi
	printf '%s: --- end of log ---\n' "$STEP" >&2
}

images_kubeadm() { crictl images 2>/dev/null | awk 'NR > 1 { print $1 ":" $2 }' | sort; }
images_k3s() { (cd "$K3S_DIR/agent/images" 2>/dev/null && for _f in *; do [ -f "$_f" ] && printf '%s %s\n' "$_f" "$(sha256sum "$_f" | awk '{ print $1 }')"; done) | sort; }

# wait_for WHAT COMMAND...: until COMMAND succeeds, at most BOOT_TIMEOUT seconds. COMMAND keeps
# its probes quiet itself (and may die with a reason of its own).
wait_for() {
	_what=$1
	shift
	_i=0
	until "$@"; do
		_i=$((_i + 5))
		[ "$_i" -le "$BOOT_TIMEOUT" ] || { quote_log; die "$_what within $BOOT_TIMEOUT s"; }
		sleep 5
	done
}

api_ready() { [ "$(kubectl --kubeconfig "$KUBECONFIG_ADMIN" get --raw /readyz 2>/dev/null)" = ok ]; }
node_registered() { [ "$(kubectl --kubeconfig "$KUBECONFIG_ADMIN" get node "$(node_name)" -o name 2>/dev/null)" = "node/$(node_name)" ]; }
k3s_running() { [ -n "$k3s_pid" ] && [ ! -e "$work/k3s.exit" ]; }
k3s_node_ready() {
	k3s_running || { quote_log; die "k3s server exited ($(cat "$work/k3s.exit")) before the node was Ready"; }
	k3s kubectl get node "$(node_name)" --no-headers 2>/dev/null | awk '{ exit !($2 == "Ready") }' >/dev/null
}

k3s_stop() {
	if k3s_running; then
		kill "$k3s_pid"
		_i=0
		while k3s_running && [ "$_i" -lt 60 ]; do sleep 1; _i=$((_i + 1)); done
		if k3s_running; then kill -9 "$k3s_pid" 2>/dev/null || true; fi
	fi
	k3s_pid=""
	# Pods outlive k3s (their shims are not its children once it is gone): stop them too.
	for _exe in /proc/[0-9]*/exe; do
		case "$(readlink "$_exe" 2>/dev/null)" in "$K3S_DIR"/data/*/containerd-shim*) _pid=${_exe#/proc/}; kill -9 "${_pid%/exe}" 2>/dev/null || true ;; esac
	done
	# flannel's and the bridge CNI's interfaces.
	for _if in cni0 flannel.1 flannel-v6.1; do
		if [ -e "/sys/class/net/$_if" ]; then ip link delete "$_if" || true; fi
	done
}

# finish: runs on every exit; the node is taken down and cleaned whether the proof passed or not.
finish() {
	_rc=$?
	set +e
	if [ "$_rc" != 0 ] && [ -z "$proven" ] && [ -s "$work/absent" ]; then log "the boot check failed; taking Kubernetes down again"; fi
	if [ "$DIST" = kubeadm ]; then
		if [ -e "$KUBECONFIG_ADMIN" ] || [ -e /etc/kubernetes/manifests ]; then kubeadm reset -f >"$work/reset.log" 2>&1 || cat "$work/reset.log" >&2; fi
		svc_stop kubelet
	else
		k3s_stop
	fi
	_clean=0
	[ ! -s "$work/absent" ] || remove_traces || _clean=1
	firewall_restore || _clean=1
	rm -rf "$work"
	[ "$_clean" = 0 ] || _rc=1
	exit "$_rc"
}
trap finish EXIT

boot_kubeadm() {
	[ -s /etc/kubernetes/kubeadm-config.yaml ] || die "no baked /etc/kubernetes/kubeadm-config.yaml (bake airgap writes it)"
	images_kubeadm >"$work/images.before"
	[ -s "$work/images.before" ] || die "crictl lists no images: the airgap images are not in containerd"
	absent_before "$KUBEADM_TRACES"
	firewall_save
	offline_on
	log "kubeadm init --config /etc/kubernetes/kubeadm-config.yaml (offline)"
	kubeadm init --config /etc/kubernetes/kubeadm-config.yaml >"$work/init.log" 2>&1 || {
		tail -n 20 "$work/init.log" >&2
		quote_log
		die "kubeadm init failed offline with the baked config and images"
	}
	wait_for "the API server did not become ready (/readyz)" api_ready
	wait_for "node $(node_name) was not registered" node_registered
	log "API server ready, node $(node_name) registered"
	proven=1
	kubeadm reset -f >"$work/reset.log" 2>&1 || { cat "$work/reset.log" >&2; die "kubeadm reset -f failed"; }
	svc_stop kubelet
	images_kubeadm >"$work/images.after"
	if ! cmp -s "$work/images.before" "$work/images.after"; then
		die "the image list changed during the boot check (something was pulled or removed): added: $(grep -vxF -f "$work/images.before" "$work/images.after" | tr '\n' ' ')removed: $(grep -vxF -f "$work/images.after" "$work/images.before" | tr '\n' ' ')"
	fi
}

boot_k3s() {
	[ -x /usr/local/bin/k3s ] || die "no /usr/local/bin/k3s (bake airgap installs it)"
	# The host's iptables for the offline rules (k3s uses the host's too when there is one).
	command -v iptables >/dev/null 2>&1 || pkg_add iptables
	images_k3s >"$work/images.before"
	[ -s "$work/images.before" ] || die "no airgap image tarball in $K3S_DIR/agent/images"
	absent_before "$K3S_TRACES"
	firewall_save
	offline_on
	log "k3s server (offline, from $K3S_DIR/agent/images)"
	# k3s in the background; its exit status lands in k3s.exit (a zombie still answers kill -0).
	(
		/usr/local/bin/k3s server --write-kubeconfig-mode 600 >"$work/k3s.log" 2>&1 &
		echo $! >"$work/k3s.pid"
		wait $! && echo 0 >"$work/k3s.exit.tmp" || echo "status $?" >"$work/k3s.exit.tmp"
		mv "$work/k3s.exit.tmp" "$work/k3s.exit"
	) &
	_i=0
	until [ -s "$work/k3s.pid" ] || [ "$_i" -ge 50 ]; do sleep 0.1 2>/dev/null || sleep 1; _i=$((_i + 1)); done
	k3s_pid=$(cat "$work/k3s.pid")
	wait_for "node $(node_name) did not become Ready" k3s_node_ready
	log "node $(node_name) Ready"
	proven=1
	k3s_stop
	images_k3s >"$work/images.after"
	cmp -s "$work/images.before" "$work/images.after" || die "the baked image tarballs changed during the boot check"
}

if [ "$DIST" = kubeadm ]; then boot_kubeadm; else boot_k3s; fi
log "Kubernetes booted offline and was taken down; no trace left"
