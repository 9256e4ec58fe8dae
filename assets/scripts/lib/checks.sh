# shellcheck shell=sh
# The verdicts of a verification: one line per check, "ok   <check>" or "FAIL <check>: <what
# was found>"; every check runs, and $failures counts the failed ones.
failures=0
ok() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s: %s\n' "$1" "$2"; failures=$((failures + 1)); }
# check NAME FOUND EXPECTED
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "found '${2}', expected '${3}'"; fi; }

# check_enabled_not_started SERVICE: it starts at boot, and it is not running in the image (it
# must start only when the clone is provisioned).
check_enabled_not_started() {
	if svc_enabled "$1"; then ok "$1 service enabled"; else fail "$1 service enabled" "$1 is not enabled at boot"; fi
	if svc_running "$1"; then fail "$1 service not started" "$1 is running (it must start only at provisioning)"; else ok "$1 service not started"; fi
}
