# shellcheck shell=sh
# The kubelet refuses to run with swap on: turn it off now and keep it off after reboot, in
# /etc/fstab and in the init system's swap units (swap_units / swap_units_disable).
# Env: none.
set -eu

units=$(swap_units)
swapoff -a

fstab=/etc/fstab
if [ -f "$fstab" ]; then
	# Only real swap entries (filesystem type, field 3, is "swap"); comments and every other
	# line are kept as they are, even a mount whose path merely contains the word "swap".
	awk '/^[[:space:]]*#/ || $3 != "swap" { print }' "$fstab" >"$fstab.tmp.$$" || { rm -f "$fstab.tmp.$$"; die "cannot rewrite $fstab"; }
	removed=$(( $(wc -l <"$fstab") - $(wc -l <"$fstab.tmp.$$") ))
	chmod 644 "$fstab.tmp.$$"
	mv -f "$fstab.tmp.$$" "$fstab"
	log "swap off; removed $removed swap entries from $fstab"
else
	log "swap off; no $fstab"
fi

# Word splitting is wanted: one unit name per word (systemd escapes blanks in unit names).
# shellcheck disable=SC2086
swap_units_disable $units
