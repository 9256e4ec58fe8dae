/**
 * Stand-ins for the Debian 12 system commands the Debian node scripts call, for use with
 * `Sandbox.create({ userland: "debian", shims: DEBIAN_SHIMS })`. They behave like the real tools
 * as far as the scripts can observe, keeping their state under /.shim:
 *
 * - apt-get: `install` copies /.shim/deb-pkgs/<name>/ into / (a package's files) and records the
 *   name in /.shim/apt-installed (a name in /.shim/apt-fail/ fails like a missing package);
 *   `clean` empties /var/cache/apt/archives.
 * - systemctl: a unit exists if its file is in /etc/systemd/system or /usr/lib/systemd/system;
 *   enabled units in /.shim/enabled, running ones in /.shim/active; `mask` links the unit to
 *   /dev/null in /etc/systemd/system as systemd does; is-enabled/is-active print and exit like
 *   systemd (enabled 0 / disabled 1 / masked 1; active 0 / inactive 3); `list-units --type=swap`
 *   prints the active swap units of /.shim/swap-units in `--no-legend --plain` format.
 * - swapoff -a: deactivates every swap (empties /.shim/swap-units and /proc/swaps).
 * - findmnt -o PROPAGATION /: /.shim/root-propagation, default "shared".
 * - containerd: `--version` prints Debian 12's version line (or /.shim/containerd-version);
 *   `config dump` prints /etc/containerd/config.toml, rejecting a table defined twice as the
 *   TOML parser does, after the sed script /.shim/dump.sed if a test wants a setting "not to take".
 * - ctr version: succeeds when containerd is active. crictl: images in /.shim/images.
 * - modprobe M: marks the module loaded (/sys/module/M); sysctl -p FILE: writes FILE's values
 *   into /proc/sys, so node-verify.sh sees what the kernel script did.
 * - fstrim: succeeds unless /.shim/fstrim-unsupported exists. visudo fails if /.shim/visudo-fail.
 * - dd: writes 1 MiB then stops with ENOSPC, like a zero fill of a full disk.
 * - useradd appends to /etc/passwd and creates the home; chpasswd records its input.
 * Everything else (mount, chown, ssh-keygen) only logs.
 */
export const DEBIAN_SHIMS: Record<string, string> = {
  "apt-get": `
cmd=""
for a in "$@"; do case "$a" in -*) ;; *) [ -z "$cmd" ] && cmd="$a" ;; esac; done
case "$cmd" in
update) exit 0 ;;
clean) rm -rf /var/cache/apt/archives/*.deb; exit 0 ;;
install)
  [ "$DEBIAN_FRONTEND" = noninteractive ] || { echo "apt-get shim: DEBIAN_FRONTEND is not noninteractive" >&2; exit 98; }
  seen=""
  for p in "$@"; do
    case "$p" in -*) continue ;; esac
    [ -z "$seen" ] && { seen=1; continue; }
    if [ -e "$STATE/apt-fail/$p" ]; then echo "E: Unable to locate package $p" >&2; exit 100; fi
    if [ -d "$STATE/deb-pkgs/$p" ]; then cp -a "$STATE/deb-pkgs/$p/." /; fi
    echo "$p" >>"$STATE/apt-installed"
  done
  exit 0 ;;
esac
echo "apt-get shim: unsupported: $*" >&2; exit 99`,

  systemctl: `
unit_of() { case "$1" in *.service|*.socket|*.swap|*.target|*.mount|*.timer) echo "$1" ;; *) echo "$1.service" ;; esac; }
exists() { [ -e "/etc/systemd/system/$1" ] || [ -e "/usr/lib/systemd/system/$1" ]; }
masked() { [ "$(readlink "/etc/systemd/system/$1" 2>/dev/null)" = /dev/null ]; }
has() { grep -qx "$2" "$STATE/$1" 2>/dev/null; }
add() { has "$1" "$2" || echo "$2" >>"$STATE/$1"; }
del() { grep -vx "$2" "$STATE/$1" >"$STATE/$1.new" 2>/dev/null; mv "$STATE/$1.new" "$STATE/$1"; }
now=""; args=""
for a in "$@"; do case "$a" in --now) now=1 ;; -*) ;; *) args="$args $a" ;; esac; done
set -- $args
verb="$1"; shift
case "$verb" in
daemon-reload) exit 0 ;;
enable)
  for u in "$@"; do u=$(unit_of "$u")
    exists "$u" || { echo "Failed to enable unit: Unit file $u does not exist." >&2; exit 1; }
    masked "$u" && { echo "Failed to enable unit: Unit file /etc/systemd/system/$u is masked." >&2; exit 1; }
    add enabled "$u"; [ -n "$now" ] && add active "$u"
  done; exit 0 ;;
start|restart)
  for u in "$@"; do u=$(unit_of "$u")
    exists "$u" || { echo "Failed to $verb $u: Unit $u not found." >&2; exit 5; }
    add active "$u"
  done; exit 0 ;;
stop) for u in "$@"; do del active "$(unit_of "$u")"; done; exit 0 ;;
mask)
  mkdir -p /etc/systemd/system
  for u in "$@"; do u=$(unit_of "$u"); ln -sf /dev/null "/etc/systemd/system/$u"; done; exit 0 ;;
is-enabled)
  u=$(unit_of "$1")
  if masked "$u"; then echo masked; exit 1; fi
  if has enabled "$u"; then echo enabled; exit 0; fi
  if exists "$u"; then echo disabled; exit 1; fi
  echo "Failed to get unit file state for $u: No such file or directory" >&2; exit 1 ;;
is-active)
  u=$(unit_of "$1")
  if has active "$u"; then echo active; exit 0; fi
  echo inactive; exit 3 ;;
list-units)
  [ -f "$STATE/swap-units" ] || exit 0
  while read -r u; do printf '%s loaded active active Swap Partition\\n' "$u"; done <"$STATE/swap-units"
  exit 0 ;;
esac
echo "systemctl shim: unsupported: $verb $*" >&2; exit 99`,

  swapoff: `: >"$STATE/swap-units"; printf 'Filename\\t\\t\\t\\tType\\t\\tSize\\t\\tUsed\\t\\tPriority\\n' >/proc/swaps`,

  findmnt: `if [ -f "$STATE/root-propagation" ]; then cat "$STATE/root-propagation"; else echo shared; fi`,

  containerd: `
case "$1" in
--version)
  if [ -f "$STATE/containerd-version" ]; then cat "$STATE/containerd-version"; else echo "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"; fi
  exit 0 ;;
config) ;;
*) echo "containerd shim: unsupported: $*" >&2; exit 99 ;;
esac
[ "$2" = dump ] || exit 99
f=/etc/containerd/config.toml
[ -f "$f" ] || { echo "containerd: failed to load $f: no such file" >&2; exit 1; }
awk '/^[[:space:]]*\\[/ { h = $0; gsub(/[[:space:]]/, "", h); if (seen[h]++) { print "containerd: failed to load TOML: duplicated tables" > "/dev/stderr"; exit 1 } }' "$f" || exit 1
if [ -f "$STATE/dump.sed" ]; then sed -f "$STATE/dump.sed" "$f"; else cat "$f"; fi`,

  ctr: `
[ "$1" = version ] || exit 99
grep -qx containerd.service "$STATE/active" 2>/dev/null || { echo "ctr: failed to dial /run/containerd/containerd.sock" >&2; exit 1; }
echo "Server: Version: 1.6.20~ds1"`,

  crictl: `
case "$1" in
images)
  printf '%-40s %-20s %-15s %s\\n' IMAGE TAG "IMAGE ID" SIZE
  [ -f "$STATE/images" ] || exit 0
  while read -r ref; do
    printf '%-40s %-20s %-15s %s\\n' "\${ref%:*}" "\${ref##*:}" 0123456789ab 1MB
  done <"$STATE/images" ;;
pull) echo "$2" >>"$STATE/images"; echo "Image is up to date for $2" ;;
*) exit 99 ;;
esac`,

  fstrim: `
if [ -e "$STATE/fstrim-unsupported" ]; then echo "fstrim: /: the discard operation is not supported" >&2; exit 1; fi
echo "/: 1.2 GiB (1288490188 bytes) trimmed on /dev/vda1"`,

  visudo: `[ -e "$STATE/visudo-fail" ] && { echo "$3: syntax error near line 1" >&2; exit 1; }; exit 0`,

  dd: `
for a in "$@"; do case "$a" in of=*) out="\${a#of=}" ;; esac; done
head -c 1048576 /dev/zero >"$out"
echo "dd: error writing '$out': No space left on device" >&2
exit 1`,

  useradd: `
name=""; home=""; shell=/bin/sh; gecos=""
while [ $# -gt 0 ]; do case "$1" in --shell) shell="$2"; shift 2 ;; --comment) gecos="$2"; shift 2 ;; --home-dir) home="$2"; shift 2 ;; --*) shift ;; *) name="$1"; shift ;; esac; done
home="\${home:-/home/$name}"
echo "$name:x:1000:1000:$gecos:$home:$shell" >>/etc/passwd
echo "$name:x:1000:" >>/etc/group
mkdir -p "$home"`,

  chpasswd: `cat >>"$STATE/chpasswd"`,
  modprobe: `mkdir -p "/sys/module/$1"`,
  sysctl: `
[ "$1" = -p ] || { echo "sysctl shim: unsupported: $*" >&2; exit 99; }
grep -E '^[a-z]' "$2" | while IFS='= ' read -r key value; do
  path="/proc/sys/$(printf '%s' "$key" | tr . /)"; mkdir -p "\${path%/*}"; echo "$value" >"$path"; echo "$key = $value"
done`,
  mount: "exit 0",
  chown: "exit 0",
  "ssh-keygen": "exit 0",
};

/** The base state of a Debian 12 install: the services and files that exist before our scripts. */
export const DEBIAN_BASE_FILES: Record<string, string | { content: string; mode: number }> = {
  "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\n",
  "/etc/group": "root:x:0:\n",
  "/usr/lib/systemd/system/ssh.service": "[Unit]\nDescription=OpenBSD Secure Shell server\n",
  // sudo is installed (Debian cloud images have it); a test removes it for a debootstrap minbase.
  "/usr/bin/sudo": { content: "#!/deb/sh\nexec \"$@\"\n", mode: 0o755 },
};

/** A fake kubeadm executable: answers version and image queries, "pulls" through crictl's state. */
export function fakeKubeadm(version: string, images: string[]): string {
  return `#!/deb/sh
{ printf 'kubeadm'; for a in "$@"; do printf ' %s' "$a"; done; printf '\\n'; } >>/.shim/calls.log
case "$1 $2" in
"version -o") echo ${version} ;;
"config images")
  case "$3" in
  list) printf '%s\\n' ${images.join(" ")} ;;
  pull)
    grep -qx containerd.service /.shim/active 2>/dev/null || { echo "kubeadm: failed to connect to the CRI socket" >&2; exit 1; }
    printf '%s\\n' ${images.join(" ")} >>/.shim/images ;;
  esac ;;
*) exit 99 ;;
esac
`;
}

/** A fake k3s binary that reports its version like the real one. */
export function fakeK3s(version: string): string {
  return `#!/deb/sh
[ "$1" = --version ] && { echo "k3s version ${version} (0123abcd)"; echo "go version go1.24"; exit 0; }
exit 1
`;
}
