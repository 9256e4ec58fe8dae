/**
 * Stand-ins for the system commands the node scripts call, for use with Sandbox: one set for
 * both OS families, with what differs between them (the package manager, the init system, the
 * userland the scripts run with, the state a fresh install starts from) as data in FAMILIES.
 * They behave like the real tools as far as the scripts can observe, keeping their state under
 * /.shim:
 *
 * - packages (apk on Alpine, apt-get on Debian): installing NAME copies /.shim/pkgs/NAME/ into /
 *   (the package's files) and records NAME in /.shim/installed; a NAME in /.shim/pkg-fail/ fails
 *   like a missing package. `apk policy NAME` prints /.shim/apk-policy/NAME in apk's format;
 *   `apt-get clean` empties /var/cache/apt/archives; apt-get insists on DEBIAN_FRONTEND.
 * - services: enabled ones in /.shim/enabled, running ones in /.shim/active, one name per line as
 *   the family's init system names it (`containerd` for OpenRC, `containerd.service` for systemd:
 *   FamilyUserland.unit). Like the real tools, rc-update/rc-service refuse a service without
 *   /etc/init.d/NAME and systemctl one without a unit file; systemctl `mask` links the unit to
 *   /dev/null as systemd does; start skips a unit whose ConditionPathExists= fails; rc-service
 *   start sources conf.d and the init script and runs its start_pre and start, as openrc-run does
 *   (a supervise-daemon service fails when the directory of its output_log/error_log is missing);
 *   is-enabled/is-active print and exit like systemd; `list-units
 *   --type=swap` prints the units in /.shim/swap-units.
 * - the kernel: `modprobe M` marks /sys/module/M; `sysctl -p FILE` writes FILE's values into
 *   /proc/sys; `swapoff -a` empties /proc/swaps and /.shim/swap-units; `mount --make-rshared /`
 *   marks / shared in /proc/self/mountinfo. So node-verify sees what the other steps did.
 * - runc: `--version` prints /.shim/runc-version (the Debian family installs upstream's runc).
 * - containerd: `--version` prints /.shim/containerd-version; `config default` prints
 *   /.shim/containerd-default.toml; `config dump` prints /etc/containerd/config.toml, rejecting a
 *   table defined twice as containerd's TOML parser does, after the sed script /.shim/dump.sed if
 *   a test wants a setting "not to take" (or /.shim/dump.toml: a real containerd's dump). `ctr version` succeeds when containerd is running.
 * - crictl: images in /.shim/images (one reference per line), printed as crictl's table.
 * - fstrim fails (discard unsupported) if /.shim/fstrim-unsupported exists; dd writes 1 MiB then
 *   stops with ENOSPC, like a zero fill of a full disk; visudo fails if /.shim/visudo-fail exists.
 * - adduser/useradd append to /etc/passwd and create the home; chpasswd records its input;
 *   `passwd -l USER` locks USER in /etc/shadow ("!" before the hash).
 * Everything else (chown, doas, ssh-keygen) only logs.
 */
import type { FileSpec, Userland } from "./sandbox.js";

export type Family = "alpine" | "debian";
export type Files = Record<string, FileSpec>;

export interface FamilyUserland {
  family: Family;
  userland: Userland;
  /** Where the userland's tools are inside the sandbox (for the #! of fake executables). */
  bin: string;
  shims: Record<string, string>;
  /** A fresh install of the family, before any homelab step. */
  baseFiles: Files;
  /** A service's name in the shims' state, as the family's init system names it. */
  unit(name: string): string;
}

/** Lines of /proc/self/mountinfo with / private (OpenRC's default) or shared (systemd's). */
export const MOUNTINFO = {
  private: "22 1 253:3 / / rw,relatime - ext4 /dev/vda3 rw\n23 22 253:1 / /boot rw,relatime - ext4 /dev/vda1 rw\n",
  shared: "22 1 253:3 / / rw,relatime shared:1 - ext4 /dev/vda3 rw\n23 22 253:1 / /boot rw,relatime shared:2 - ext4 /dev/vda1 rw\n",
};

const installPackage = `
    if [ -e "$STATE/pkg-fail/$p" ]; then echo "$FAIL_MESSAGE $p" >&2; exit 100; fi
    if [ -d "$STATE/pkgs/$p" ]; then cp -a "$STATE/pkgs/$p/." /; fi
    echo "$p" >>"$STATE/installed"`;

const COMMON: Record<string, string> = {
  containerd: `
case "$1" in
--version)
  if [ -f "$STATE/containerd-version" ]; then cat "$STATE/containerd-version"; else echo "containerd shim: no /.shim/containerd-version" >&2; exit 99; fi
  exit 0 ;;
config) ;;
*) echo "containerd shim: unsupported: $*" >&2; exit 99 ;;
esac
case "$2" in
default) cat "$STATE/containerd-default.toml" ;;
dump)
  f=/etc/containerd/config.toml
  [ -f "$f" ] || { echo "containerd: failed to load $f: no such file" >&2; exit 1; }
  awk '/^[[:space:]]*\\[/ { h = $0; gsub(/[[:space:]]/, "", h); if (seen[h]++) { print "containerd: failed to load TOML: table " h " already exists" > "/dev/stderr"; exit 1 } }' "$f" || exit 1
  if [ -f "$STATE/dump.toml" ]; then cat "$STATE/dump.toml"; exit 0; fi
  if [ -f "$STATE/dump.sed" ]; then sed -f "$STATE/dump.sed" "$f"; else cat "$f"; fi ;;
*) exit 99 ;;
esac`,

  runc: `
[ "$1" = --version ] || { echo "runc shim: unsupported: $*" >&2; exit 99; }
if [ -f "$STATE/runc-version" ]; then cat "$STATE/runc-version"; else echo "runc shim: no /.shim/runc-version" >&2; exit 99; fi`,

  ctr: `
[ "$1" = version ] || exit 99
grep -qxE 'containerd(\\.service)?' "$STATE/active" 2>/dev/null || { echo "ctr: failed to dial /run/containerd/containerd.sock" >&2; exit 1; }
echo "Server: Version: (shim)"`,

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

  dd: `
for a in "$@"; do case "$a" in of=*) out="\${a#of=}" ;; esac; done
head -c 1048576 /dev/zero >"$out"
echo "dd: error writing '$out': No space left on device" >&2
exit 1`,

  fstrim: `
if [ -e "$STATE/fstrim-unsupported" ]; then echo "fstrim: /: the discard operation is not supported" >&2; exit 1; fi
echo "/: 1.2 GiB (1288490188 bytes) trimmed on /dev/vda1"`,

  visudo: `[ -e "$STATE/visudo-fail" ] && { echo "$3: syntax error near line 1" >&2; exit 1; }; exit 0`,
  modprobe: `mkdir -p "/sys/module/$1"`,
  sysctl: `
[ "$1" = -p ] || { echo "sysctl shim: unsupported: $*" >&2; exit 99; }
grep -E '^[a-z]' "$2" | while IFS='= ' read -r key value; do
  path="/proc/sys/$(printf '%s' "$key" | tr . /)"; mkdir -p "\${path%/*}"; echo "$value" >"$path"; echo "$key = $value"
done`,
  swapoff: `: >"$STATE/swap-units"; printf 'Filename\\t\\t\\t\\tType\\t\\tSize\\t\\tUsed\\t\\tPriority\\n' >/proc/swaps`,
  mount: `
[ "$*" = "--make-rshared /" ] || exit 0
f=/proc/self/mountinfo
[ -f "$f" ] || exit 0
awk '$5 == "/" && !/ shared:/ { sub(/ - /, " shared:1 - ") } { print }' "$f" >"$f.new" && mv "$f.new" "$f"`,
  chpasswd: `cat >>"$STATE/chpasswd"`,
  // passwd -l USER: BusyBox's passwd and shadow-utils' (Debian) both lock by putting "!" before
  // the hash in /etc/shadow (a locked one stays as it is).
  passwd: `
[ "$1" = -l ] && [ -n "$2" ] || { echo "passwd shim: unsupported: $*" >&2; exit 99; }
grep -q "^$2:" /etc/shadow 2>/dev/null || { echo "passwd: unknown user $2" >&2; exit 1; }
sed "s/^$2:\\([^!]\\)/$2:!\\1/; s/^$2::/$2:!:/" /etc/shadow >/etc/shadow.new && cat /etc/shadow.new >/etc/shadow && rm /etc/shadow.new
echo "passwd: password for $2 changed"`,
  chown: "exit 0",
  "ssh-keygen": "exit 0",
};

const ALPINE_SHIMS: Record<string, string> = {
  ...COMMON,
  apk: `
FAIL_MESSAGE="ERROR: unable to select packages:"
case "$1" in
update) exit 0 ;;
policy)
  [ -f "$STATE/apk-policy/$2" ] || exit 0
  printf '%s policy:\\n' "$2"
  while read -r v; do printf '  %s:\\n    https://dl-cdn.alpinelinux.org/alpine/v3.24/community\\n' "$v"; done <"$STATE/apk-policy/$2"
  exit 0 ;;
add)
  shift
  # '!NAME' is a conflict in the world (apk-tools src/package.c apk_dep_parse: "[!]name[[op]ver]"):
  # NAME can no longer be installed.
  for p in "$@"; do
    case "$p" in '!'*) echo "\${p#!}" >>"$STATE/world-conflicts"; continue ;; esac
    p=$(printf '%s' "$p" | sed 's/[~=<>].*//')
    if grep -qx "$p" "$STATE/world-conflicts" 2>/dev/null; then
      printf 'ERROR: unable to select packages:\n  %s (virtual):\n    conflicts: world[!%s]\n' "$p" "$p" >&2; exit 1
    fi${installPackage}
  done
  exit 0 ;;
esac
echo "apk shim: unsupported: $*" >&2; exit 99`,

  "rc-update": `
case "$1" in
add)
  [ -f "/etc/init.d/$2" ] || { echo " * rc-update: service \\\`$2' does not exist" >&2; exit 1; }
  [ "\${3:-default}" = default ] || { echo "rc-update shim: only the default runlevel" >&2; exit 99; }
  grep -qx "$2" "$STATE/enabled" 2>/dev/null || echo "$2" >>"$STATE/enabled"
  exit 0 ;;
show)
  [ -f "$STATE/enabled" ] || exit 0
  while read -r s; do printf '%20s | default\\n' "$s"; done <"$STATE/enabled"
  exit 0 ;;
esac
echo "rc-update shim: unsupported: $*" >&2; exit 99`,

  "rc-service": `
svc="$1"; action="$2"
[ -f "/etc/init.d/$svc" ] || { echo " * rc-service: service \\\`$svc' does not exist" >&2; exit 1; }
case "$action" in
status) grep -qx "$svc" "$STATE/active" 2>/dev/null && { echo " * status: started"; exit 0; }; echo " * status: stopped"; exit 3 ;;
start|restart)
  # As openrc-run: the service's conf.d and init script are sourced, start_pre must succeed.
  if ! (
    eerror() { echo " * ERROR: $*" >&2; }; einfo() { :; }; ewarn() { echo " * WARNING: $*" >&2; }
    ebegin() { :; }; eend() { return "\${1:-0}"; }
    RC_SVCNAME="$svc"
    if [ -f "/etc/conf.d/$svc" ]; then . "/etc/conf.d/$svc"; fi
    . "/etc/init.d/$svc"
    if command -v start_pre >/dev/null 2>&1; then start_pre || exit 1; fi
    if command -v start >/dev/null 2>&1; then start; exit; fi
    # supervise-daemon opens output_log/error_log before it runs the command, and fails without them.
    if [ "\${supervisor:-}" = supervise-daemon ]; then
      for log in "\${output_log:-}" "\${error_log:-}"; do
        [ -z "$log" ] || [ -d "\${log%/*}" ] || { echo "supervise-daemon: $log: No such file or directory" >&2; exit 1; }
      done
    fi
  ); then echo " * ERROR: $svc failed to start" >&2; exit 1; fi
  grep -qx "$svc" "$STATE/active" 2>/dev/null || echo "$svc" >>"$STATE/active"; exit 0 ;;
stop) grep -vx "$svc" "$STATE/active" >"$STATE/active.new" 2>/dev/null; mv "$STATE/active.new" "$STATE/active"; exit 0 ;;
esac
exit 99`,

  doas: "exit 0",
  adduser: `
while [ $# -gt 1 ]; do case "$1" in -s) shell="$2"; shift 2 ;; -g) gecos="$2"; shift 2 ;; -h) home="$2"; shift 2 ;; *) shift ;; esac; done
name="$1"
echo "$name:x:1000:1000:\${gecos:-}:\${home:-/home/$name}:\${shell:-/bin/sh}" >>/etc/passwd
echo "$name:x:1000:" >>/etc/group
mkdir -p "\${home:-/home/$name}"`,
};

const DEBIAN_SHIMS: Record<string, string> = {
  ...COMMON,
  "apt-get": `
FAIL_MESSAGE="E: Unable to locate package"
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
    [ -z "$seen" ] && { seen=1; continue; }${installPackage}
  done
  exit 0 ;;
esac
echo "apt-get shim: unsupported: $*" >&2; exit 99`,

  systemctl: `
unit_of() { case "$1" in *.service|*.socket|*.swap|*.target|*.mount|*.timer) echo "$1" ;; *) echo "$1.service" ;; esac; }
exists() { [ -e "/etc/systemd/system/$1" ] || [ -e "/usr/lib/systemd/system/$1" ]; }
masked() { [ "$(readlink "/etc/systemd/system/$1" 2>/dev/null)" = /dev/null ]; }
has() { grep -qx "$2" "$STATE/$1" 2>/dev/null; }
# conditions_met UNIT: its ConditionPathExists= hold; a unit whose condition fails is skipped
# (not started, and "start" still succeeds), as systemd does.
conditions_met() {
  f="/etc/systemd/system/$1"; [ -e "$f" ] || f="/usr/lib/systemd/system/$1"
  for p in $(sed -n 's/^ConditionPathExists=//p' "$f" 2>/dev/null); do
    case "$p" in !*) [ ! -e "\${p#!}" ] || return 1 ;; *) [ -e "$p" ] || return 1 ;; esac
  done
}
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
    add enabled "$u"; [ -n "$now" ] && conditions_met "$u" && add active "$u"
  done; exit 0 ;;
start|restart)
  for u in "$@"; do u=$(unit_of "$u")
    exists "$u" || { echo "Failed to $verb $u: Unit $u not found." >&2; exit 5; }
    conditions_met "$u" && add active "$u"
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

  useradd: `
name=""; home=""; shell=/bin/sh; gecos=""
while [ $# -gt 0 ]; do case "$1" in --shell) shell="$2"; shift 2 ;; --comment) gecos="$2"; shift 2 ;; --home-dir) home="$2"; shift 2 ;; --*) shift ;; *) name="$1"; shift ;; esac; done
home="\${home:-/home/$name}"
echo "$name:x:1000:1000:$gecos:$home:$shell" >>/etc/passwd
echo "$name:x:1000:" >>/etc/group
mkdir -p "$home"`,
};

const exe = (content: string) => ({ content, mode: 0o755 });

export const ALPINE: FamilyUserland = {
  family: "alpine",
  userland: "busybox",
  bin: "/bb",
  shims: ALPINE_SHIMS,
  // A fresh Alpine install: the OpenRC services that exist before our steps, / private.
  baseFiles: {
    "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
    "/etc/group": "root:x:0:root\n",
    "/etc/init.d/cgroups": exe("#!/sbin/openrc-run\n"),
    "/etc/init.d/local": exe("#!/sbin/openrc-run\n"),
    "/etc/init.d/sshd": exe("#!/sbin/openrc-run\n"),
    "/proc/self/mountinfo": MOUNTINFO.private,
    // OpenRC's rc.conf as Alpine installs it: the cgroup mode left at its commented default.
    "/etc/rc.conf": '#rc_parallel="NO"\n# rc_cgroup_mode="hybrid"\n#rc_cgroup_controllers=""\n',
    "/.shim/containerd-version": "containerd github.com/containerd/containerd/v2 v2.3.3 abc\n",
  },
  unit: (name) => name,
};

export const DEBIAN: FamilyUserland = {
  family: "debian",
  userland: "debian",
  bin: "/deb",
  shims: DEBIAN_SHIMS,
  // A Debian 12 install: the services and files that exist before our steps, / shared (systemd).
  baseFiles: {
    "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\n",
    "/etc/group": "root:x:0:\n",
    "/usr/lib/systemd/system/ssh.service": "[Unit]\nDescription=OpenBSD Secure Shell server\n",
    // sudo is installed (Debian cloud images have it); a test removes it for a debootstrap minbase.
    "/usr/bin/sudo": exe('#!/deb/sh\nexec "$@"\n'),
    "/proc/self/mountinfo": MOUNTINFO.shared,
    // What the pinned upstream releases print (containerd 2.3.4, runc 1.4.3), once installed.
    "/.shim/containerd-version": "containerd github.com/containerd/containerd/v2 v2.3.4 abc\n",
    "/.shim/runc-version": "runc version 1.4.3\ncommit: v1.4.3-0-gabc\nspec: 1.2.1\ngo: go1.24.9\nlibseccomp: 2.5.6\n",
  },
  unit: (name) => (name.includes(".") ? name : `${name}.service`),
};

/** Every family, for the conformance suites: one specification, every implementation. */
export const FAMILIES: readonly FamilyUserland[] = [ALPINE, DEBIAN];

/** A fake kubeadm executable: answers version and image queries, "pulls" through crictl's state. */
export function fakeKubeadm(fam: FamilyUserland, version: string, images: string[]): string {
  return `#!${fam.bin}/sh
{ printf 'kubeadm'; for a in "$@"; do printf ' %s' "$a"; done; printf '\\n'; } >>/.shim/calls.log
case "$1 $2" in
"version -o") echo ${version} ;;
"config images")
  case "$3" in
  list) printf '%s\\n' ${images.join(" ")} ;;
  pull)
    grep -qxE 'containerd(\\.service)?' /.shim/active 2>/dev/null || { echo "kubeadm: failed to connect to the CRI socket" >&2; exit 1; }
    printf '%s\\n' ${images.join(" ")} >>/.shim/images ;;
  esac ;;
*) exit 99 ;;
esac
`;
}

/** A fake k3s binary that reports its version like the real one. */
export function fakeK3s(fam: FamilyUserland, version: string): string {
  return `#!${fam.bin}/sh
[ "$1" = --version ] && { echo "k3s version ${version} (0123abcd)"; echo "go version go1.24"; exit 0; }
exit 1
`;
}
