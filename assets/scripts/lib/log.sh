# shellcheck shell=sh
# log MESSAGE...: one progress line on stdout, named after the step ($STEP, set by the composed
# script's first lines), so Packer's output says which step said it.
log() { printf '%s: %s\n' "$STEP" "$*"; }
# die MESSAGE...: the reason on stderr, and the step fails (and with it the build).
die() { printf '%s: ERROR: %s\n' "$STEP" "$*" >&2; exit 1; }
