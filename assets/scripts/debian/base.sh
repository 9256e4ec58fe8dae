# shellcheck shell=sh
# Debian's part of the base step, on an image that may already have a vagrant user (a cloud
# image, the debootstrap fixture, or the preseeded install).

# Vagrant runs everything through sudo; a debootstrap minbase image does not have it. rsync:
# vagrant-libvirt's default synced folder; without it `vagrant up` installs it in the guest,
# which needs a network.
base_prepare() {
	_missing=""
	for _tool in sudo rsync; do command -v "$_tool" >/dev/null 2>&1 || _missing="$_missing $_tool"; done
	# shellcheck disable=SC2086 # one package per word
	if [ -n "$_missing" ]; then pkg_add $_missing; fi
}

# base_add_user NAME: a user with a home and a login shell.
base_add_user() { useradd --create-home --shell /bin/bash --comment "$1" "$1"; }

base_finish() { :; }
