# shellcheck shell=sh
# offline_on / offline_off: no traffic leaves the node except the build's own SSH session (its
# packets are replies on a connection Packer opened: ESTABLISHED) and what stays on the node
# (loopback; the node's own addresses are routed through lo). Pods cannot reach out either
# (FORWARD to the default route's interface). The rules live in one chain of homelab's own,
# HOMELAB-OFFLINE, which offline_off removes again; nothing else of the firewall is touched.
OFFLINE_CHAIN=HOMELAB-OFFLINE

_offline_tables() { echo iptables; if command -v ip6tables >/dev/null 2>&1; then echo ip6tables; fi; }

offline_on() {
	command -v iptables >/dev/null 2>&1 || die "iptables is needed to keep the node offline while Kubernetes boots"
	_ext=$(ip route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
	offline_off
	for _t in $(_offline_tables); do
		"$_t" -w -N "$OFFLINE_CHAIN"
		"$_t" -w -A "$OFFLINE_CHAIN" -o lo -j ACCEPT
		"$_t" -w -A "$OFFLINE_CHAIN" -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
		"$_t" -w -A "$OFFLINE_CHAIN" -j REJECT
		"$_t" -w -I OUTPUT 1 -j "$OFFLINE_CHAIN"
		if [ -n "$_ext" ]; then "$_t" -w -I FORWARD 1 -o "$_ext" -j "$OFFLINE_CHAIN"; fi
	done
	log "offline: outbound traffic rejected (chain $OFFLINE_CHAIN) except the build's SSH session"
}

# offline_off: every rule offline_on added, and its chain, gone (safe to run when none are there).
offline_off() {
	for _t in $(_offline_tables); do
		"$_t" -w -S OUTPUT 2>/dev/null | grep -- "-j $OFFLINE_CHAIN\$" | sed 's/^-A //' | while read -r _rule; do
			# shellcheck disable=SC2086 # the rule's own words, as iptables -S printed them
			"$_t" -w -D $_rule
		done
		"$_t" -w -S FORWARD 2>/dev/null | grep -- "-j $OFFLINE_CHAIN\$" | sed 's/^-A //' | while read -r _rule; do
			# shellcheck disable=SC2086
			"$_t" -w -D $_rule
		done
		if "$_t" -w -S "$OFFLINE_CHAIN" >/dev/null 2>&1; then
			"$_t" -w -F "$OFFLINE_CHAIN"
			"$_t" -w -X "$OFFLINE_CHAIN"
		fi
	done
}
