# shellcheck shell=sh
# Debian's part of the kubeadm step: Debian 12 packages no Kubernetes, so the upstream binaries
# (and crictl from the cri-tools release) are run by a kubelet unit written here.

kubeadm_from_packages() { return 1; }
# kubeadm_host_packages: what the kubeadm preflight checks and the kubelet need on the host, and
# curl for the downloads (a minimal Debian has neither curl nor wget).
kubeadm_host_packages() { pkg_add curl ca-certificates iptables iproute2 socat ethtool conntrack tar gzip; }
# crictl_from_packages: Debian 12 packages no cri-tools.
crictl_from_packages() { return 1; }

# kubelet_service: the kubelet unit and the drop-in kubeadm relies on: kubeadm init/join writes
# /var/lib/kubelet/config.yaml (--config) and /var/lib/kubelet/kubeadm-flags.env
# (KUBELET_KUBEADM_ARGS), and the (bootstrap) kubeconfigs under /etc/kubernetes. Until then the
# kubelet would crash-loop, which is why it is enabled but not started.
kubelet_service() {
	mkdir -p /etc/systemd/system/kubelet.service.d /var/lib/kubelet /etc/kubernetes/manifests
	write_file /etc/systemd/system/kubelet.service 644 <<'UNIT'
# Written by homelab k8s-kubeadm.sh (kubelet from the upstream release binary).
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target containerd.service

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
RestartSec=10
StartLimitInterval=0

[Install]
WantedBy=multi-user.target
UNIT
	write_file /etc/systemd/system/kubelet.service.d/10-kubeadm.conf 644 <<'UNIT'
# Written by homelab k8s-kubeadm.sh: how kubeadm hands its settings to the kubelet.
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# Written by kubeadm init/join at runtime: KUBELET_KUBEADM_ARGS.
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# For the user: KUBELET_EXTRA_ARGS.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
UNIT
}

# kubelet_service_checks: the drop-in that hands kubeadm's flags to the kubelet is in place.
kubelet_service_checks() {
	if grep -q 'KUBELET_KUBEADM_ARGS' /etc/systemd/system/kubelet.service.d/10-kubeadm.conf 2>/dev/null; then
		ok "kubelet kubeadm drop-in"
	else
		fail "kubelet kubeadm drop-in" "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf missing or without KUBELET_KUBEADM_ARGS"
	fi
}
