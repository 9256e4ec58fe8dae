#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real: Packer and qemu (bundles are
# validated and built), shellcheck and bubblewrap + busybox (the in-VM scripts are linted and
# run in a sandbox), vagrant (the box registry is read by the real client), bsdtar and python3
# (the box tar reader is checked against archives they write; hostile archives are made with
# tarfile), util-linux (mount of a small tmpfs, unshare for a PID-1 server) for the registry's
# adversarial tests, and the tools that make an offline Debian base image for the end-to-end build.
set -euo pipefail

packages=(
  packer
  qemu-system-x86 qemu-utils
  shellcheck bubblewrap busybox
  vagrant
  debootstrap extlinux syslinux-common fdisk e2fsprogs
  zstd patch sudo containerd dash
  libarchive-tools python3 util-linux
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${packages[@]}" >/dev/null
echo "installed: ${packages[*]}"
