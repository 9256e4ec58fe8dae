#!/bin/sh
# The kubelet refuses to run with swap on: turn it off now and keep it off after reboot.
# On systemd, swap is activated by .swap units (from fstab, or found by systemd-gpt-auto-generator
# on a GPT swap partition without any fstab line): the active ones are masked as well.
# Env: none.
set -eu

log() { printf 'k8s-swap: %s\n' "$*"; }
die() { printf 'k8s-swap: ERROR: %s\n' "$*" >&2; exit 1; }

# Listed BEFORE swapoff: afterwards the units are inactive and no longer listed.
units=$(systemctl list-units --type=swap --state=active --no-legend --plain | awk '$1 ~ /\.swap$/ { print $1 }')
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

# A masked unit is never started again, whatever generator produces it.
masked=0
for unit in $units; do
	systemctl mask "$unit"
	masked=$((masked + 1))
done
# systemd-fstab-generator re-reads the edited fstab.
systemctl daemon-reload
log "masked $masked active swap unit(s)"
