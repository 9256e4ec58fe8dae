# shellcheck shell=sh
# Base (runs first): the Vagrant conventions: user vagrant/vagrant, the documented insecure keys,
# passwordless sudo, UseDNS no; before them the family's base_prepare (packages), after them its
# base_finish. Idempotent: running it twice changes nothing.
# Env: none.
set -eu

base_prepare

# --- user vagrant, password vagrant (a locked account is refused by sshd even with a key) ---
if ! id vagrant >/dev/null 2>&1; then
	base_add_user vagrant
fi
printf 'vagrant:vagrant\n' | chpasswd
home=$(awk -F: '$1 == "vagrant" { print $6 }' /etc/passwd)
if [ -z "$home" ] || [ ! -d "$home" ]; then die "home directory of user vagrant not found in /etc/passwd (got '$home')"; fi

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
# sudo ignores files in sudoers.d whose name contains a dot: the final name has none.
mv -f /etc/sudoers.d/.vagrant.new /etc/sudoers.d/vagrant

base_finish

# --- sshd: UseDNS no (reverse lookups stall logins in NAT'd VMs). The first value wins, and an
# sshd_config may start with `Include /etc/ssh/sshd_config.d/*.conf` (Debian's does), so a drop-in
# could be overridden by an earlier one: put ours on the first line, drop every other UseDNS line.
# sshd is not restarted (it reads this on the next start; Packer's session stays).
sshd_config=/etc/ssh/sshd_config
[ -f "$sshd_config" ] || die "$sshd_config is missing: is the SSH server installed by the base install?"
{
	printf 'UseDNS no\n'
	grep -v -i -E '^[[:space:]]*#?[[:space:]]*UseDNS([[:space:]]|$)' "$sshd_config" || true
} | write_file "$sshd_config" 644
log "vagrant user, keys, sudo and sshd configured"
