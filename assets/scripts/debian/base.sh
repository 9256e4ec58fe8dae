# shellcheck shell=sh
# Debian's part of the base step, on an image that may already have a vagrant user (a cloud
# image, the debootstrap fixture, or the preseeded install).

# Vagrant runs everything through sudo; a debootstrap minbase image does not have it.
base_prepare() { command -v sudo >/dev/null 2>&1 || pkg_add sudo; }

# base_add_user NAME: a user with a home and a login shell.
base_add_user() { useradd --create-home --shell /bin/bash --comment "$1" "$1"; }

base_finish() { :; }
