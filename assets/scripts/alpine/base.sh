# shellcheck shell=sh
# Alpine's part of the base step: the release's community repository, sudo, doas, chrony and rsync, and
# the doas rule (Alpine users expect doas; Vagrant itself uses sudo).

base_prepare() {
	# Community of the SAME release as main (never edge/testing).
	_repos=/etc/apk/repositories
	[ -f "$_repos" ] || die "$_repos is missing: the base install did not configure apk"
	_main=$(awk '/^[[:space:]]*#/ { next } /\/main\/?[[:space:]]*$/ { sub(/\/?[[:space:]]*$/, ""); print; exit }' "$_repos")
	[ -n "$_main" ] || die "$_repos has no enabled .../main repository line to derive community from"
	_community="${_main%/main}/community"
	if grep -qxF "$_community" "$_repos"; then
		log "community repository already enabled: $_community"
	else
		# Uncomment the release's community line if setup-alpine left it commented, else append it.
		awk -v c="$_community" '
			{ line = $0; t = line; sub(/^[[:space:]]*#[[:space:]]*/, "", t) }
			!done && t == c { print c; done = 1; next }
			{ print line }
			END { if (!done) print c }' "$_repos" | write_file "$_repos" 644
		log "enabled community repository: $_community"
	fi
	apk update
	# chrony: setup-alpine leaves NTP out when the clock source is kvm-clock (is_kvm_clock), and
	# a node with a drifting clock fails TLS and etcd; so the node keeps its own time.
	# rsync: vagrant-libvirt's default synced folder; without it `vagrant up` installs it in the
	# guest, which needs a network.
	pkg_add sudo doas chrony rsync
	svc_enable chronyd
}

# base_add_user NAME: a user with a home and a login shell.
base_add_user() { adduser -D -s /bin/sh -g "$1" "$1"; }

base_finish() {
	# Passwordless doas: Alpine's doas reads ONLY /etc/doas.d/*.conf when that directory exists,
	# and only /etc/doas.conf otherwise; write the rule where this doas will read it.
	_rule='permit nopass vagrant'
	if [ -d /etc/doas.d ]; then
		printf '%s\n' "$_rule" | write_file /etc/doas.d/vagrant.conf 400
		doas -C /etc/doas.d/vagrant.conf || die "doas rule /etc/doas.d/vagrant.conf does not parse"
	else
		touch /etc/doas.conf
		if ! grep -qxF "$_rule" /etc/doas.conf; then
			{ cat /etc/doas.conf; printf '%s\n' "$_rule"; } | write_file /etc/doas.conf 400
		fi
		doas -C /etc/doas.conf || die "/etc/doas.conf does not parse"
	fi
}
