#!/bin/sh
# Sysprep on Debian/systemd (last): no machine identity, SSH host keys, apt caches, logs, temp
# files or shell history in the box, and free space trimmed (or zeroed) so the box compresses
# well. The vagrant user's keys and sudo rule are left alone.
# Env: SYSPREP_ZERO_FILL (optional, default yes): "no" never writes zeros over free space; with
#      "yes" zeros are written only when fstrim is not supported on the disk.
set -eu

log() { printf 'sysprep: %s\n' "$*"; }
die() { printf 'sysprep: ERROR: %s\n' "$*" >&2; exit 1; }
write_file() {
	_tmp="$1.tmp.$$"
	cat >"$_tmp" || { rm -f "$_tmp"; die "cannot write $1"; }
	chmod "$2" "$_tmp"
	mv -f "$_tmp" "$1"
}

SYSPREP_ZERO_FILL="${SYSPREP_ZERO_FILL:-yes}"
case "$SYSPREP_ZERO_FILL" in yes | no) ;; *) die "SYSPREP_ZERO_FILL '$SYSPREP_ZERO_FILL' must be yes or no" ;; esac

apt-get clean

# Every clone must generate its own identity: an existing, empty machine-id means "first boot"
# to systemd. D-Bus reads /var/lib/dbus/machine-id: a symlink keeps the two the same id.
: >/etc/machine-id
chmod 444 /etc/machine-id
mkdir -p /var/lib/dbus
rm -f /var/lib/dbus/machine-id
ln -s /etc/machine-id /var/lib/dbus/machine-id

# Debian's ssh.service does not create missing host keys (only the openssh-server postinst
# does), and its `sshd -t` pre-check fails without them: a oneshot unit ordered before ssh
# runs `ssh-keygen -A` (creates only the missing key types) at every boot.
mkdir -p /etc/systemd/system
write_file /etc/systemd/system/ssh-host-keys.service 644 <<'UNIT'
# Written by homelab sysprep.sh: the box ships without SSH host keys; each clone makes its own.
[Unit]
Description=Generate missing SSH host keys
Before=ssh.service ssh.socket
ConditionPathExists=/usr/bin/ssh-keygen

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target ssh.service
UNIT
systemctl daemon-reload
systemctl enable ssh-host-keys.service
rm -f /etc/ssh/ssh_host_*

# Keep the directories under /var/log (services expect them), drop the files (journal included).
if [ -d /var/log ]; then find /var/log -type f -exec rm -f {} +; fi
# A DHCP lease of the build network would be offered back on the first boot of every clone.
rm -f /var/lib/dhcp/*.leases
for d in /tmp /var/tmp; do
	if [ -d "$d" ]; then find "$d" -mindepth 1 -maxdepth 1 -exec rm -rf {} +; fi
done
rm -f /root/.bash_history /root/.history /root/.lesshst
for h in /home/*; do
	[ -d "$h" ] || continue
	rm -f "$h/.bash_history" "$h/.history" "$h/.lesshst"
done

# fstrim frees the unused blocks in the disk image directly; only if the disk does not support
# discard, fill the free space with zeros so the qcow2 conversion can drop it.
if command -v fstrim >/dev/null 2>&1 && fstrim -av; then
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
log "machine-id, host keys (regenerated at boot), apt cache, logs, tmp and history cleared"
