#!/bin/sh
# Sysprep (last): no machine identity, host keys, caches, logs, temp files or shell history in
# the box, and free space zeroed/trimmed so the box compresses well. The vagrant user's keys,
# sudo and doas rules are left alone.
# Env: SYSPREP_ZERO_FILL (optional, default yes): "no" skips writing zeros over free space
#      (fine when the disk is attached with discard and fstrim works).
set -eu

log() { printf 'sysprep: %s\n' "$*"; }
die() { printf 'sysprep: ERROR: %s\n' "$*" >&2; exit 1; }

SYSPREP_ZERO_FILL="${SYSPREP_ZERO_FILL:-yes}"
case "$SYSPREP_ZERO_FILL" in yes | no) ;; *) die "SYSPREP_ZERO_FILL '$SYSPREP_ZERO_FILL' must be yes or no" ;; esac

# Every clone must generate its own identity: an existing, empty machine-id means "first boot".
: >/etc/machine-id
chmod 444 /etc/machine-id
if [ -f /var/lib/dbus/machine-id ] && [ ! -L /var/lib/dbus/machine-id ]; then
	: >/var/lib/dbus/machine-id
fi
# Alpine's sshd service regenerates missing host keys (ssh-keygen -A) at its next start.
rm -f /etc/ssh/ssh_host_*
rm -rf /var/cache/apk/*
# Keep the directories under /var/log (services expect them), drop the files.
if [ -d /var/log ]; then find /var/log -type f -exec rm -f {} +; fi
for d in /tmp /var/tmp; do
	if [ -d "$d" ]; then find "$d" -mindepth 1 -maxdepth 1 -exec rm -rf {} +; fi
done
rm -f /root/.ash_history /root/.bash_history /root/.history
for h in /home/*; do
	[ -d "$h" ] || continue
	rm -f "$h/.ash_history" "$h/.bash_history" "$h/.history"
done

if [ "$SYSPREP_ZERO_FILL" = yes ]; then
	# Fill the free space with zeros so the qcow2/vmdk conversion can drop it. dd stops with
	# ENOSPC when the disk is full: that is the expected end, anything else is an error.
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
fi
if command -v fstrim >/dev/null 2>&1; then
	# Without discard on the virtual disk fstrim is refused; zeroing above already covers that.
	fstrim -v / || log "fstrim / not supported here (zero fill covers it)"
fi
log "machine-id, host keys, caches, logs, tmp and history cleared"
