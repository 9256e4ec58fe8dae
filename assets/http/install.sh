#!/bin/sh
# Runs in the Alpine live ISO, fetched by Packer's boot command. It installs Alpine to the
# first virtual disk with the answer file served beside it, then prepares the installed
# system for Packer's SSH communicator and reboots into it.
#
# Credentials: root gets the documented Vagrant default password "vagrant" so that Packer can
# log in; sysprep turns password logins for root off again before the box is packaged.
set -eu

HTTP_URL="${1:?usage: install.sh http://host:port}"

log() { printf 'homelab-install: %s\n' "$*"; }

disk=""
for candidate in /dev/vda /dev/sda /dev/nvme0n1; do
  if [ -b "$candidate" ]; then disk="$candidate"; break; fi
done
[ -n "$disk" ] || { log "no virtual disk found (looked for vda, sda, nvme0n1)"; exit 1; }
log "installing to $disk"

# The answer file reads HOMELAB_DISK (its DISKOPTS), so it is set before the file is ever
# sourced: under `set -u` an unset one aborts the install. ERASE_DISKS answers setup-disk's
# "erase?" question.
export HOMELAB_DISK="$disk" ERASE_DISKS="$disk"
wget -q -O /tmp/answers "$HTTP_URL/answers"
# shellcheck disable=SC1091,SC2153 # the answer file, fetched at run time, sets MIRRORS
MIRROR=$(. /tmp/answers && printf '%s' "$MIRRORS")
BRANCH="v$(cut -d. -f1,2 /etc/alpine-release)"
setup-alpine -e -f /tmp/answers

# Find the installed root among the disk's partitions (its layout depends on BIOS or UEFI).
mkdir -p /mnt/target
root=""
for part in "$disk"1 "$disk"2 "$disk"3 "$disk"p1 "$disk"p2 "$disk"p3; do
  [ -b "$part" ] || continue
  if mount "$part" /mnt/target 2>/dev/null; then
    if [ -f /mnt/target/etc/alpine-release ]; then root="$part"; break; fi
    umount /mnt/target
  fi
done
[ -n "$root" ] || { log "installed root filesystem not found on $disk"; exit 1; }
log "installed root is $root"

# Exactly this release's main and community repositories: never edge, never testing.
printf '%s/%s/main\n%s/%s/community\n' "$MIRROR" "$BRANCH" "$MIRROR" "$BRANCH" >/mnt/target/etc/apk/repositories

# Packer logs in as root with the Vagrant default password during the build only.
echo "root:vagrant" | chroot /mnt/target chpasswd
mkdir -p /mnt/target/etc/ssh/sshd_config.d
printf 'PermitRootLogin yes\nPasswordAuthentication yes\nUseDNS no\n' >/mnt/target/etc/ssh/sshd_config.d/10-homelab-build.conf
if ! grep -q '^Include /etc/ssh/sshd_config.d/' /mnt/target/etc/ssh/sshd_config; then
  sed -i '1i Include /etc/ssh/sshd_config.d/*.conf' /mnt/target/etc/ssh/sshd_config
fi

umount /mnt/target
log "installed; rebooting into the new system"
reboot
