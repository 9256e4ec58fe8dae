/**
 * Stand-ins for the Alpine commands the node scripts call, for use with Sandbox. They behave like
 * the real tools as far as the scripts can observe, keeping their state under /.shim:
 *
 * - apk: `add` copies /.shim/apk-pkgs/<name>/ into / (a package's files) and records the name in
 *   /.shim/apk-installed; `policy NAME` prints /.shim/apk-policy/NAME in apk's format.
 * - rc-update / rc-service: runlevels in /.shim/runlevels ("svc runlevel"), started services in
 *   /.shim/started; like OpenRC they refuse a service without /etc/init.d/<svc>.
 * - containerd: `config default` prints /.shim/containerd-default.toml; `config dump` prints the
 *   config file actually written (/etc/containerd/config.toml), rejecting a table defined twice as
 *   the TOML parser would, after applying the sed script /.shim/dump.sed if a test wants a
 *   setting "not to take".
 * - crictl: images in /.shim/images (one reference per line), printed as crictl's table.
 * - ctr version: succeeds when containerd was started.
 * - dd: writes 1 MiB then stops with ENOSPC, like a zero fill of a full disk.
 * Everything else (modprobe, sysctl, mount, swapoff, chown, visudo, doas, fstrim) only logs.
 */
export const ALPINE_SHIMS: Record<string, string> = {
  apk: `
case "$1" in
update) exit 0 ;;
policy)
  [ -f "$STATE/apk-policy/$2" ] || exit 0
  printf '%s policy:\\n' "$2"
  while read -r v; do printf '  %s:\\n    https://dl-cdn.alpinelinux.org/alpine/v3.24/community\\n' "$v"; done <"$STATE/apk-policy/$2"
  exit 0 ;;
add)
  shift
  for p in "$@"; do
    name=$(printf '%s' "$p" | sed 's/[~=<>].*//')
    if [ -e "$STATE/apk-fail/$name" ]; then echo "ERROR: unable to select packages: $name" >&2; exit 1; fi
    if [ -d "$STATE/apk-pkgs/$name" ]; then cp -a "$STATE/apk-pkgs/$name/." /; fi
    echo "$name" >>"$STATE/apk-installed"
  done
  exit 0 ;;
esac
echo "apk shim: unsupported: $*" >&2; exit 99`,

  "rc-update": `
case "$1" in
add)
  [ -f "/etc/init.d/$2" ] || { echo " * rc-update: service \\\`$2' does not exist" >&2; exit 1; }
  rl="\${3:-default}"
  grep -qx "$2 $rl" "$STATE/runlevels" 2>/dev/null || echo "$2 $rl" >>"$STATE/runlevels"
  exit 0 ;;
show)
  rl="\${2:-default}"
  [ -f "$STATE/runlevels" ] || exit 0
  awk -v rl="$rl" '$2 == rl { printf "%20s | %s\\n", $1, $2 }' "$STATE/runlevels"
  exit 0 ;;
esac
echo "rc-update shim: unsupported: $*" >&2; exit 99`,

  "rc-service": `
svc="$1"; action="$2"
[ -f "/etc/init.d/$svc" ] || { echo " * rc-service: service \\\`$svc' does not exist" >&2; exit 1; }
case "$action" in
status) grep -qx "$svc" "$STATE/started" 2>/dev/null && { echo " * status: started"; exit 0; }; echo " * status: stopped"; exit 3 ;;
start|restart) grep -qx "$svc" "$STATE/started" 2>/dev/null || echo "$svc" >>"$STATE/started"; exit 0 ;;
stop) grep -vx "$svc" "$STATE/started" >"$STATE/started.new" 2>/dev/null; mv "$STATE/started.new" "$STATE/started"; exit 0 ;;
esac
exit 99`,

  containerd: `
[ "$1" = config ] || { echo "containerd shim: unsupported: $*" >&2; exit 99; }
case "$2" in
default) cat "$STATE/containerd-default.toml" ;;
dump)
  f=/etc/containerd/config.toml
  [ -f "$f" ] || { echo "containerd: failed to load $f: no such file" >&2; exit 1; }
  awk '/^[[:space:]]*\\[/ { h = $0; gsub(/[[:space:]]/, "", h); if (seen[h]++) { print "containerd: failed to load TOML: table " h " already exists" > "/dev/stderr"; exit 1 } }' "$f" || exit 1
  if [ -f "$STATE/dump.sed" ]; then sed -f "$STATE/dump.sed" "$f"; else cat "$f"; fi ;;
*) exit 99 ;;
esac`,

  ctr: `
[ "$1" = version ] || exit 99
grep -qx containerd "$STATE/started" 2>/dev/null || { echo "ctr: failed to dial /run/containerd/containerd.sock" >&2; exit 1; }
echo "Server: Version: v2.3.3"`,

  crictl: `
case "$1" in
images)
  printf '%-40s %-20s %-15s %s\\n' IMAGE TAG "IMAGE ID" SIZE
  [ -f "$STATE/images" ] || exit 0
  while read -r ref; do
    printf '%-40s %-20s %-15s %s\\n' "\${ref%:*}" "\${ref##*:}" 0123456789ab 1MB
  done <"$STATE/images" ;;
pull) echo "$2" >>"$STATE/images"; echo "Image is up to date for $2" ;;
info) exit 0 ;;
*) exit 99 ;;
esac`,

  dd: `
for a in "$@"; do case "$a" in of=*) out="\${a#of=}" ;; esac; done
head -c 1048576 /dev/zero >"$out"
echo "dd: error writing '$out': No space left on device" >&2
exit 1`,

  modprobe: "exit 0",
  sysctl: "exit 0",
  mount: "exit 0",
  swapoff: "exit 0",
  chown: "exit 0",
  visudo: "exit 0",
  doas: "exit 0",
  fstrim: "exit 0",
  chpasswd: `cat >>"$STATE/chpasswd"`,
  adduser: `
while [ $# -gt 1 ]; do case "$1" in -s) shell="$2"; shift 2 ;; -g) gecos="$2"; shift 2 ;; -h) home="$2"; shift 2 ;; *) shift ;; esac; done
name="$1"
echo "$name:x:1000:1000:\${gecos:-}:\${home:-/home/$name}:\${shell:-/bin/sh}" >>/etc/passwd
echo "$name:x:1000:" >>/etc/group
mkdir -p "\${home:-/home/$name}"`,
};

/** A fake kubeadm executable: answers version and image queries, "pulls" through crictl's state. */
export function fakeKubeadm(version: string, images: string[]): string {
  return `#!/bb/sh
{ printf 'kubeadm'; for a in "$@"; do printf ' %s' "$a"; done; printf '\\n'; } >>/.shim/calls.log
case "$1 $2" in
"version -o") echo ${version} ;;
"config images")
  case "$3" in
  list) printf '%s\\n' ${images.join(" ")} ;;
  pull)
    grep -qx containerd /.shim/started 2>/dev/null || { echo "kubeadm: failed to connect to the CRI socket" >&2; exit 1; }
    printf '%s\\n' ${images.join(" ")} >>/.shim/images ;;
  esac ;;
*) exit 99 ;;
esac
`;
}

/** A fake k3s binary that reports its version like the real one. */
export function fakeK3s(version: string): string {
  return `#!/bb/sh
[ "$1" = --version ] && { echo "k3s version ${version} (0123abcd)"; echo "go version go1.24"; exit 0; }
exit 1
`;
}

/** The base state of a freshly installed Alpine: OpenRC services that exist before our scripts. */
export const ALPINE_BASE_FILES: Record<string, string | { content: string; mode: number }> = {
  "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
  "/etc/group": "root:x:0:root\n",
  "/etc/init.d/cgroups": { content: "#!/sbin/openrc-run\n", mode: 0o755 },
  "/etc/init.d/local": { content: "#!/sbin/openrc-run\n", mode: 0o755 },
  "/etc/init.d/sshd": { content: "#!/sbin/openrc-run\n", mode: 0o755 },
};
