#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real: Packer and qemu (bundles are
# validated and built), shellcheck and bubblewrap + busybox (the in-VM scripts are linted and
# run in a sandbox), vagrant (the box registry is read by the real client), bsdtar and python3
# (the box tar reader is checked against archives they write; hostile archives are made with
# tarfile), util-linux (mount of a small tmpfs, unshare for a PID-1 server) for the registry's
# adversarial tests, the tools that make an offline Debian base image for the end-to-end
# build, and a private libvirt (started by test/support/libvirt-netns.ts inside a network namespace) for the
# end-to-end `vagrant up`; nginx (the baseline bench/serve measures the registry's downloads against)
# and chromium (the registry's web page is read by a real headless browser, driven by playwright-core);
# Ceph's radosgw with one monitor and one OSD (scripts/s3-server.sh) is the real S3-compatible server
# the S3 box store is tested against.
set -euo pipefail

packages=(
  packer
  qemu-system-x86 qemu-utils
  shellcheck bubblewrap busybox
  vagrant
  debootstrap extlinux syslinux-common fdisk e2fsprogs
  zstd patch sudo dash xz-utils
  libarchive-tools python3 util-linux
  libvirt-daemon-system libvirt-daemon-system-sysv dnsmasq-base iptables nftables vagrant-libvirt iproute2
  nginx chromium
  ceph-mon ceph-osd radosgw curl
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${packages[@]}" >/dev/null
echo "installed: ${packages[*]}"

# libvirt runs without systemd here: with its default cgroup_controllers it would move qemu into
# /machine cgroups at the root, out of the test run's own cgroup. Added once (idempotent); an
# existing cgroup_controllers line of the machine's owner is left as it is.
qemu_conf=/etc/libvirt/qemu.conf
if ! grep -q '^[[:space:]]*cgroup_controllers[[:space:]]*=' "$qemu_conf"; then
  printf '\n# Added by homelab scripts/install-test-deps.sh (libvirt without systemd, for the e2e test)\ncgroup_controllers = [ ]\n' | $sudo tee -a "$qemu_conf" >/dev/null
  echo "set cgroup_controllers = [ ] in $qemu_conf"
fi
