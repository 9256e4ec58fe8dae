#!/bin/sh
# Alpine base (runs first): the release's community repository, and the Vagrant conventions
# (user vagrant/vagrant, the documented insecure keys, passwordless sudo and doas, UseDNS no).
# Env: none.
set -eu

log() { printf 'base-alpine: %s\n' "$*"; }
die() { printf 'base-alpine: ERROR: %s\n' "$*" >&2; exit 1; }

# Write stdin to $1 through a temporary file in the same directory, so a failure never leaves a
# half-written file behind (the rename is atomic on one filesystem).
write_file() {
	_tmp="$1.tmp.$$"
	cat >"$_tmp" || { rm -f "$_tmp"; die "cannot write $1"; }
	chmod "$2" "$_tmp"
	mv -f "$_tmp" "$1"
}

# --- repositories: community of the SAME release as main (never edge/testing) ---
repos=/etc/apk/repositories
[ -f "$repos" ] || die "$repos is missing: the base install did not configure apk"
main=$(awk '/^[[:space:]]*#/ { next } /\/main\/?[[:space:]]*$/ { sub(/\/?[[:space:]]*$/, ""); print; exit }' "$repos")
[ -n "$main" ] || die "$repos has no enabled .../main repository line to derive community from"
community="${main%/main}/community"
if grep -qxF "$community" "$repos"; then
	log "community repository already enabled: $community"
else
	# Uncomment the release's community line if setup-alpine left it commented, else append it.
	awk -v c="$community" '
		{ line = $0; t = line; sub(/^[[:space:]]*#[[:space:]]*/, "", t) }
		!done && t == c { print c; done = 1; next }
		{ print line }
		END { if (!done) print c }' "$repos" | write_file "$repos" 644
	log "enabled community repository: $community"
fi
apk update

# sudo AND doas: Vagrant itself uses sudo; Alpine users expect doas.
apk add sudo doas

# --- user vagrant, password vagrant (a locked account is refused by sshd even with a key) ---
if ! id vagrant >/dev/null 2>&1; then
	adduser -D -s /bin/sh -g vagrant vagrant
fi
printf 'vagrant:vagrant\n' | chpasswd
home=$(awk -F: '$1 == "vagrant" { print $6 }' /etc/passwd)
if [ -z "$home" ] || [ ! -d "$home" ]; then die "home directory of user vagrant not found (got '$home')"; fi

# --- Vagrant's documented insecure public keys (RSA for old clients, ed25519 for Vagrant >= 2.3.8) ---
mkdir -p "$home/.ssh"
chmod 700 "$home/.ssh"
write_file "$home/.ssh/authorized_keys" 600 <<'KEYS'
ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEA6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr+kz4TjGYe7gHzIw+niNltGEFHzD8+v1I2YJ6oXevct1YeS0o9HZyN1Q9qgCgzUFtdOKLv6IedplqoPkcmF0aYet2PkEDo3MlTBckFXPITAMzF8dJSIFo9D8HfdOV0IAdx4O7PtixWKn5y2hMNG0zQPyUecp4pzC6kivAIhyfHilFR61RGL+GPXQ2MWZWFYbAGjyiYJnAmCP3NOTd0jMZEnDkbUvxhMmBYSdETk1rRgm+R4LOzFUGaHqHDLKLX+FIPKcF96hrucXzcWyLbIbEgE98OHlnVYCzRdK8jlqm8tehUc9c9WhQ== vagrant insecure public key
ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN1YdxBpNlzxDqfJyw/QKow1F+wvG9hXGoqiysfJOn5Y vagrant insecure public key
KEYS
chown -R vagrant:vagrant "$home/.ssh"

# --- passwordless sudo, validated before it is moved into place (a broken sudoers locks sudo) ---
mkdir -p /etc/sudoers.d
printf 'Defaults:vagrant !requiretty\nvagrant ALL=(ALL) NOPASSWD: ALL\n' >/etc/sudoers.d/.vagrant.new
chmod 440 /etc/sudoers.d/.vagrant.new
visudo -c -f /etc/sudoers.d/.vagrant.new >/dev/null || { rm -f /etc/sudoers.d/.vagrant.new; die "sudoers rule for vagrant does not validate"; }
mv -f /etc/sudoers.d/.vagrant.new /etc/sudoers.d/vagrant

# --- passwordless doas: Alpine's doas reads ONLY /etc/doas.d/*.conf when that directory exists,
# and only /etc/doas.conf otherwise; write the rule where this doas will read it.
rule='permit nopass vagrant'
if [ -d /etc/doas.d ]; then
	printf '%s\n' "$rule" | write_file /etc/doas.d/vagrant.conf 400
	doas -C /etc/doas.d/vagrant.conf || die "doas rule /etc/doas.d/vagrant.conf does not parse"
else
	touch /etc/doas.conf
	if ! grep -qxF "$rule" /etc/doas.conf; then
		{ cat /etc/doas.conf; printf '%s\n' "$rule"; } | write_file /etc/doas.conf 400
	fi
	doas -C /etc/doas.conf || die "/etc/doas.conf does not parse"
fi

# --- sshd: UseDNS no (reverse lookups stall logins in NAT'd VMs). First value wins in sshd_config,
# so drop any other UseDNS line and put ours at the top, before any Include or Match block.
sshd_config=/etc/ssh/sshd_config
[ -f "$sshd_config" ] || die "$sshd_config is missing: is openssh installed by the base install?"
{
	printf 'UseDNS no\n'
	grep -v -i -E '^[[:space:]]*#?[[:space:]]*UseDNS([[:space:]]|$)' "$sshd_config" || true
} | write_file "$sshd_config" 644
log "vagrant user, keys, sudo, doas and sshd configured"
