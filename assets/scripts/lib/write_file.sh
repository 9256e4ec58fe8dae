# shellcheck shell=sh
# write_file PATH MODE: stdin to PATH through a temporary file in the same directory, so a failure
# never leaves a half-written file behind (the rename is atomic on one filesystem).
write_file() {
	_tmp="$1.tmp.$$"
	cat >"$_tmp" || { rm -f "$_tmp"; die "cannot write $1"; }
	chmod "$2" "$_tmp"
	mv -f "$_tmp" "$1"
}
