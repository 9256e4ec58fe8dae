# shellcheck shell=sh
# toml_get FILE TABLE KEY: the value of KEY directly under [TABLE], quotes removed. Table headers
# are compared without blanks and with " read as ', so `containerd config dump` output matches
# whatever quoting the table was written with.
toml_get() {
	awk -v want="$2" -v key="$3" '
		function norm(s) { gsub(/[[:space:]]/, "", s); gsub(/"/, "\047", s); return s }
		BEGIN { want = norm(want) }
		/^[[:space:]]*\[/ { cur = norm($0); next }
		cur == want {
			line = $0; sub(/^[[:space:]]*/, "", line)
			if (index(line, key) != 1) next
			rest = substr(line, length(key) + 1)
			if (rest !~ /^[[:space:]]*=/) next
			sub(/^[[:space:]]*=[[:space:]]*/, "", rest); sub(/[[:space:]]+$/, "", rest)
			if (rest ~ /^\047.*\047$/ || rest ~ /^".*"$/) rest = substr(rest, 2, length(rest) - 2)
			print rest; exit
		}' "$1"
}

# toml_set FILE TABLE KEY VALUE: set KEY = VALUE (a TOML value, already quoted) under [TABLE]:
# replace the key if the table has it, add it to the table if not, add the table if missing.
toml_set() {
	awk -v want="$2" -v key="$3" -v val="$4" '
		function norm(s) { gsub(/[[:space:]]/, "", s); gsub(/"/, "\047", s); return s }
		function indent(s) { sub(/[^[:space:]].*$/, "", s); return s }
		# Blank lines inside the table are held back so an added key lands after the last key.
		function flush() { for (; blanks > 0; blanks--) print "" }
		function add() { print ind key " = " val; done = 1 }
		BEGIN { wantn = norm(want) }
		/^[[:space:]]*\[/ {
			if (intable && !done) add()
			flush()
			intable = (norm($0) == wantn)
			if (intable) { seen = 1; ind = indent($0) "  " }
			print; next
		}
		intable && /^[[:space:]]*$/ { blanks++; next }
		intable && !done {
			flush()
			line = $0; sub(/^[[:space:]]*/, "", line); ind = indent($0)
			if (index(line, key) == 1 && substr(line, length(key) + 1) ~ /^[[:space:]]*=/) { add(); next }
		}
		{ flush(); print }
		END {
			if (intable && !done) add()
			flush()
			if (!seen) { print ""; print want; print key " = " val }
		}' "$1" >"$1.edit" && mv -f "$1.edit" "$1"
}

# check_cni_bin_dir DUMP TABLE DIR: the CRI plugin of containerd 2.x finds the CNI plugins in DIR:
# `bin_dirs` (2.1+) lists it, or, with no list, 2.0's `bin_dir` names it. Uses ok/fail of
# lib/checks.sh (composed into the same scripts).
check_cni_bin_dir() {
	_dirs=$(toml_get "$1" "$2" bin_dirs)
	_dir=$(toml_get "$1" "$2" bin_dir)
	case "$_dirs" in
	*"'$3'"* | *"\"$3\""*) ok "containerd CNI dir" ;;
	*)
		if [ "$_dir" = "$3" ] && { [ -z "$_dirs" ] || [ "$_dirs" = "[]" ]; }; then
			ok "containerd CNI dir"
		else
			fail "containerd CNI dir" "bin_dirs=${_dirs:-unset} bin_dir=${_dir:-unset}, expected $3"
		fi
		;;
	esac
}
