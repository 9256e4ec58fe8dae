# shellcheck shell=sh
# download URL FILE: BusyBox wget where there is one (Alpine), else curl (a Debian step installs
# it first). No wget -T: it crashes some BusyBox builds; the Packer provisioner timeout bounds a
# stalled download instead.
download() {
	if command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1" || die "download failed: $1"
	elif command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 3 -o "$2" "$1" || die "download failed: $1"
	else
		die "neither wget nor curl is available to download $1"
	fi
}

# is_url TEXT: a plain http(s) URL, with nothing a shell or a URL path could read differently.
is_url() { printf '%s\n' "$1" | grep -Eqx 'https?://[A-Za-z0-9._~:/%+@-]+'; }
