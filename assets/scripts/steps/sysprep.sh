# shellcheck shell=sh disable=SC2154 # failures: counted by lib/checks.sh, composed before this part
# Sysprep (last): no machine identity, SSH host keys, package caches, logs, DHCP leases, temp
# files or shell history in the box, and free space trimmed (or zeroed) so the box compresses
# well; root's password locked and the build's root login over SSH removed. The vagrant user's
# keys, sudo (and doas) rules are left alone.
# Env: SYSPREP_ZERO_FILL (optional, default yes): "no" never writes zeros over free space; with
#      "yes" zeros are written only when fstrim is not supported on the disk.
set -eu

SYSPREP_ZERO_FILL="${SYSPREP_ZERO_FILL:-yes}"
case "$SYSPREP_ZERO_FILL" in yes | no) ;; *) die "SYSPREP_ZERO_FILL '$SYSPREP_ZERO_FILL' must be yes or no" ;; esac

pkg_clean

# Every clone must generate its own identity: an existing, empty machine-id means "first boot".
# D-Bus reads /var/lib/dbus/machine-id: a symlink keeps the two the same id.
: >/etc/machine-id
chmod 444 /etc/machine-id
mkdir -p /var/lib/dbus
rm -f /var/lib/dbus/machine-id
ln -s /etc/machine-id /var/lib/dbus/machine-id
machine_id_at_boot

# Each clone makes its own SSH host keys at its first boot.
ssh_host_keys_at_boot
rm -f /etc/ssh/ssh_host_*

# The box must not let root in with a password (the build did: Alpine's install.sh, or a
# bring-your-own image's login): the build's sshd drop-in goes, root's password is locked. Then
# a final check of both, which fails the build: nothing after sysprep could catch it.
build_login_off
passwd -l root
if awk -F: '$1 == "root" && ($2 ~ /^!/ || $2 == "*") { f = 1 } END { exit !f }' /etc/shadow 2>/dev/null; then
	ok "root password locked"
else
	fail "root password locked" "root's password in /etc/shadow is usable"
fi
# Only root is checked: a password for the vagrant user (vagrant/vagrant) is the Vagrant box
# convention, and sshd's own default already allows password logins for other users.
permits=""
for f in /etc/ssh/sshd_config.d/*.conf; do
	[ -f "$f" ] || continue
	if grep -qiE '^[[:space:]]*PermitRootLogin[[:space:]]+yes' "$f"; then permits="$permits $f"; fi
done
if [ -z "$permits" ]; then
	ok "no sshd drop-in permits root logins"
else
	fail "no sshd drop-in permits root logins" "${permits# }"
fi
[ "$failures" = 0 ] || die "root can still log in with a password (see FAIL above)"

# Keep the directories under /var/log (services expect them), drop the files (a journal included).
if [ -d /var/log ]; then find /var/log -type f -exec rm -f {} +; fi
# A DHCP lease of the build network would be offered back on the first boot of every clone; what
# the DHCP client writes after this (at the build VM's shutdown) is dropped at the first boot.
rm -f /var/lib/dhcp/*.leases
clone_identity_at_boot
for d in /tmp /var/tmp; do
	if [ -d "$d" ]; then find "$d" -mindepth 1 -maxdepth 1 -exec rm -rf {} +; fi
done
for h in /root /home/*; do
	[ -d "$h" ] || continue
	rm -f "$h/.ash_history" "$h/.bash_history" "$h/.history" "$h/.lesshst"
done

# fstrim frees the unused blocks in the disk image directly; only if the disk does not support
# discard, fill the free space with zeros so the qcow2/vmdk conversion can drop it.
if command -v fstrim >/dev/null 2>&1 && fstrim -v /; then
	log "fstrim done; no zero fill needed"
elif [ "$SYSPREP_ZERO_FILL" = yes ]; then
	log "fstrim not supported here: zero-filling free space"
	# dd stops with ENOSPC when the disk is full: that is the expected end, anything else fails.
	fill=/.homelab-zero-fill
	err=/run/homelab-zero-fill.err
	if dd if=/dev/zero of="$fill" bs=1M 2>"$err"; then
		log "zero fill wrote until EOF"
	elif grep -qi 'no space left' "$err"; then
		log "zero fill reached the end of free space"
	else
		msg=$(cat "$err")
		rm -f "$fill" "$err"
		die "zero fill failed: $msg"
	fi
	sync
	rm -f "$fill" "$err"
	sync
else
	log "fstrim not supported and SYSPREP_ZERO_FILL=no: free space left as is"
fi
log "machine-id, host keys, package cache, logs, tmp and history cleared"
