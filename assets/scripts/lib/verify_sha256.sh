# shellcheck shell=sh
# verify_sha256 FILE EXPECTED WHAT: FILE's sha256 must be EXPECTED, the published digest. WHAT
# names the download in messages (its URL, or "k3s of v1.35.1+k3s1"). Nothing downloaded is
# installed before it passed this.
verify_sha256() {
	printf '%s\n' "$2" | grep -Eqx '[0-9a-f]{64}' || die "the published checksum of $3 is not a sha256 (got '$2')"
	_actual=$(sha256sum "$1" | awk '{ print $1 }')
	[ "$_actual" = "$2" ] || die "checksum mismatch for $3: got $_actual, expected $2"
	log "verified $(basename "$1") sha256 $_actual"
}

# sums_entry SUMS NAME WHAT: the one digest a `sha256sum`-format list (SUMS, called WHAT in
# messages) gives for NAME; none or several is an error.
sums_entry() {
	_entries=$(awk -v n="$2" '$2 == n || $2 == "*" n { print $1 }' "$1")
	[ -n "$_entries" ] || die "no entry for $2 in $3"
	[ "$(printf '%s\n' "$_entries" | wc -l)" -eq 1 ] || die "several entries for $2 in $3"
	printf '%s\n' "$_entries"
}
