# shellcheck shell=sh
# Alpine's part of the kubeadm step: Kubernetes from the community repository when it carries
# exactly the pinned version; otherwise the upstream binaries run by Alpine's kubelet init script.

# kubeadm_host_packages: what the kubeadm and kubelet packages would have pulled in, when the
# upstream binaries are used instead: kubelet-openrc depends only on openrc (not on the kubelet
# package), so it brings Alpine's init script and conf.d without a conflicting kubelet.
# The '!' entries are conflicts in apk's world (apk-tools: "[!]name"): a later `apk add` or
# upgrade can never put Alpine's own kubeadm, kubelet or kubectl over the upstream binaries.
kubeadm_host_packages() { pkg_add '!kubeadm' '!kubelet' '!kubectl' kubelet-openrc cri-tools iptables iproute2 socat ethtool conntrack-tools; }
# crictl_from_packages: cri-tools (in both package sets above) brings crictl.
crictl_from_packages() { return 0; }

# kubeadm_from_packages VERSION MINOR (1.35.1 1.35): installs kubeadm, kubelet, kubectl and crictl
# from the repository and succeeds when it carries exactly VERSION ("apk policy" lists versions
# ascending).
kubeadm_from_packages() {
	_repo=$(apk policy kubeadm 2>/dev/null | awk '/^[[:space:]]+[0-9][^[:space:]]*:[[:space:]]*$/ { v = $1 } END { sub(/:$/, "", v); print v }')
	_repo="${_repo%-r*}"
	if [ "$_repo" != "$1" ]; then
		log "Alpine's repository has kubeadm '${_repo:-none}', not $1: using the upstream binaries"
		return 1
	fi
	# Fuzzy pin: stays on this minor through Alpine's -rN rebuilds and patch updates.
	log "installing Kubernetes $1 from Alpine's community repository"
	pkg_add "kubeadm~=$2" "kubelet~=$2" "kubectl~=$2" "kubelet-openrc~=$2" cri-tools
}

# kubelet_service: Alpine's init script (kubelet-openrc) must run the kubelet that is installed.
# It passes --cgroup-driver=cgroupfs from /etc/conf.d/kubelet and --config from kubeadm.
kubelet_service() {
	[ -f /etc/init.d/kubelet ] || die "/etc/init.d/kubelet is missing: kubelet-openrc did not install"
	_cmd=$(kubelet_initd_command)
	if [ -n "$_cmd" ] && [ ! -x "$_cmd" ]; then
		die "/etc/init.d/kubelet runs $_cmd, which is not an installed executable"
	fi
	# supervise-daemon will not start the kubelet when it cannot open its log; the directory
	# comes with the kubelet package (aports community/kubernetes: `install -d .../var/log/kubelet`),
	# not with kubelet-openrc, so the upstream binaries need it made here.
	for _log in $(kubelet_log_files); do mkdir -p "${_log%/*}"; done
}
# kubelet_log_files: where the init script's supervise-daemon writes the kubelet's output
# (output_log, error_log; their defaults, with $RC_SVCNAME as OpenRC sets it), one a line.
# shellcheck disable=SC2016 # the $ in the patterns is the init script's text, not ours to expand
kubelet_log_files() {
	sed -nE 's/^[[:space:]]*:[[:space:]]*"?\$\{(output|error)_log:=([^}]*)\}.*/\2/p; s/^[[:space:]]*(output|error)_log=["'\'']?([^"'\'' ]*).*/\2/p' /etc/init.d/kubelet 2>/dev/null \
		| sed -e 's/\${RC_SVCNAME}/kubelet/g' -e 's/\$RC_SVCNAME/kubelet/g' | sort -u
}
kubelet_initd_command() { sed -n 's/^[[:space:]]*command=["'\'']\{0,1\}\([^"'\'' ]*\).*/\1/p' /etc/init.d/kubelet 2>/dev/null | head -n 1; }

# kubelet_service_checks: the init script is there and runs an installed kubelet, and the
# directory of its logs exists.
kubelet_service_checks() {
	_cmd=$(kubelet_initd_command)
	if [ -n "$_cmd" ] && [ -x "$_cmd" ]; then ok "kubelet init script"; else fail "kubelet init script" "/etc/init.d/kubelet missing or its command '${_cmd}' is not an installed executable"; fi
	_seen=" "
	for _log in $(kubelet_log_files); do
		_dir="${_log%/*}"
		case "$_seen" in *" $_dir "*) continue ;; esac
		_seen="$_seen$_dir "
		if [ -d "$_dir" ]; then ok "kubelet log directory $_dir"; else fail "kubelet log directory $_dir" "missing: supervise-daemon cannot open $_log"; fi
	done
}
