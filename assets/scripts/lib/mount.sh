# shellcheck shell=sh
# root_propagation: how / propagates mounts ("shared:N", or "private"), from the kernel's own
# table (field 5 of mountinfo is the mount point; optional fields up to "-" carry "shared:N").
root_propagation() {
	awk '$5 == "/" { p = "private"; for (i = 7; i <= NF && $i != "-"; i++) if ($i ~ /^shared:/) p = $i } END { print p }' /proc/self/mountinfo 2>/dev/null
}
