import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { renderConfig } from "../../src/generate.js";
import { BOOT_COMMAND } from "../../src/os/alpine.js";
import { type FixtureServer, serveFixtures } from "../support/fixture-server.js";
import { hostBlockDevice, Sandbox } from "../support/sandbox.js";
import { ALPINE } from "../support/shims.js";
import { needTool } from "../support/tools.js";

/**
 * install.sh and the answer file as the bundle ships them, run the way the boot command runs
 * them, under BusyBox ash (the live ISO's shell), in a sandbox that plays the alpine-virt live
 * ISO: a virtual disk (/dev/vda and, once installed, its partitions), setup-alpine, mount and
 * chroot on the installed root, sshd's service.
 *
 * The setup-alpine shim plays what alpinelinux/alpine-conf setup-alpine.in (tag 3.22.0) does with
 * `-e -f FILE`: it sources FILE as shell (no `set -u`: an unset variable is empty), runs
 * setup-sshd with $SSHDOPTS, which (setup-sshd.in, 3.22.0) does `rc-update add sshd default` and
 * `rc-service sshd start` in the live system, then `setup-disk -q $DISKOPTS`; setup-disk.in
 * (3.22.0) in sys mode partitions the disk it is given (boot first, then root: find_nth_non_boot_parts),
 * erases it without asking only if it is listed in $ERASE_DISKS, installs (copying the live
 * system's repositories, an empty root password with -e) and unmounts everything at the end
 * (unmount_partitions). The shim writes the installed partitions under /.shim/disk/<name>; the
 * mount shim shows one at the mount point (by symlink) and fails, like mount, for a partition
 * with no filesystem.
 */
const LIVE_ISO_SHIMS: Record<string, string> = {
  ...ALPINE.shims,
  "setup-interfaces": "exit 0",
  "setup-alpine": `
answers=""; empty_root=""
while getopts "aef:c:hq" opt; do case "$opt" in f) answers="$OPTARG" ;; e) empty_root=1 ;; esac; done
[ -f "$answers" ] || { echo "setup-alpine shim: no answer file" >&2; exit 99; }
cp "$answers" "$STATE/setup-alpine.answers"
printf 'HOMELAB_DISK=%s\\nERASE_DISKS=%s\\n' "\${HOMELAB_DISK-<unset>}" "\${ERASE_DISKS-<unset>}" >"$STATE/setup-alpine.env"
. "$answers"
# setup-sshd, in the live system
rc-update add sshd default && rc-service sshd start
# setup-disk -q $DISKOPTS
mode=""; disk=""
set -- $DISKOPTS
while [ $# -gt 0 ]; do case "$1" in -m|-s|-k|-v) [ "$1" = -m ] && mode="$2"; shift 2 ;; -*) shift ;; *) disk="$1"; shift ;; esac; done
echo "$DISKOPTS" >"$STATE/setup-disk.opts"
[ "$mode" = sys ] || { echo "setup-disk shim: only sys mode" >&2; exit 99; }
[ -n "$disk" ] || { echo "setup-disk: no disk given: Erase the above disk(s) and continue? (y/n) [n]" >&2; exit 1; }
[ -b "$disk" ] || { echo "setup-disk: $disk is not a block device" >&2; exit 1; }
[ "$ERASE_DISKS" = "$disk" ] || { echo "WARNING: Erase the above disk(s) and continue? (y/n) [n]" >&2; exit 1; }
name="\${disk#/dev/}"
boot="$STATE/disk/\${name}1"; root="$STATE/disk/\${name}2"
mkdir -p "$boot" "$root/etc/apk" "$root/etc/ssh" "$root/root"
echo kernel >"$boot/vmlinuz-virt"
cp /etc/alpine-release "$root/etc/alpine-release"
branch="v$(cut -d. -f1,2 /etc/alpine-release)"
mirror="\${MIRRORS%%[[:space:]]*}"
printf '%s/%s/main\\n%s/%s/community\\n' "$mirror" "$branch" "$mirror" "$branch" >"$root/etc/apk/repositories"
if [ -n "$empty_root" ]; then echo 'root::20000:0:::::' >"$root/etc/shadow"; else echo 'root:*:20000:0:::::' >"$root/etc/shadow"; fi
printf '#PermitRootLogin prohibit-password\\n#PasswordAuthentication yes\\nSubsystem sftp internal-sftp\\n' >"$root/etc/ssh/sshd_config"
exit 0`,
  mount: `
dev="$1"; dir="$2"
part="$STATE/disk/\${dev#/dev/}"
[ -d "$part" ] || { echo "mount: mounting $dev on $dir failed: Invalid argument" >&2; exit 255; }
[ -d "$dir" ] && rmdir "$dir"
ln -s "$part" "$dir"
echo "$dir" >>"$STATE/mounted"`,
  umount: `
[ -L "$1" ] || { echo "umount: can't unmount $1: Invalid argument" >&2; exit 1; }
rm "$1" && mkdir "$1"
grep -vx "$1" "$STATE/mounted" >"$STATE/mounted.new"; mv "$STATE/mounted.new" "$STATE/mounted"`,
  chroot: `
root="$1"; shift
case "$1" in
chpasswd)
  while IFS=: read -r user pass; do
    sed -i "s|^$user:[^:]*:|$user:\\$6\\$shim\\$$pass:|" "$root/etc/shadow"
  done ;;
*) echo "chroot shim: unsupported: $*" >&2; exit 99 ;;
esac`,
  reboot: "exit 0",
};

/** The live ISO (alpine-virt 3.24.2): its release file and sshd's service. */
const LIVE_ISO_FILES = {
  "/etc/alpine-release": "3.24.2\n",
  "/etc/init.d/sshd": { content: "#!/sbin/openrc-run\n", mode: 0o755 },
};

const canRun = () => ["bwrap", "busybox"].every((t) => needTool(t)) && hostBlockDevice() !== "";

let sb: Sandbox | undefined;
let server: FixtureServer | undefined;
afterEach(async () => {
  sb?.dispose();
  await server?.close();
});

describe.skipIf(!canRun())("install.sh in the live ISO (BusyBox ash)", () => {
  const bundle = renderConfig(parseConfig("k8s: {distribution: kubeadm}\nalpine: {mirror: 'https://mirror.example.org/alpine/'}\n")).files;
  const http = (name: string) => String(bundle.get(`http/${name}`)!.content);
  /** The boot command's second line as Packer types it, with Packer's HTTP server in it. */
  const typed = (url: string) => BOOT_COMMAND[1]!.replace(/<enter>$/, "").replaceAll("http://{{ .HTTPIP }}:{{ .HTTPPort }}", url);

  beforeEach(async () => {
    server = await serveFixtures({ "/install.sh": http("install.sh"), "/answers": http("answers") });
    sb = await Sandbox.create({ shims: LIVE_ISO_SHIMS, files: LIVE_ISO_FILES, blockDevices: ["/dev/vda", "/dev/vda1", "/dev/vda2"] });
  });

  it("installs to /dev/vda with the shipped answer file, prepares the installed root for the build's SSH login and reboots", async () => {
    const r = await sb!.exec(["/bb/sh", "-c", typed(server!.url)]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(server!.requests).toEqual(["/install.sh", "/answers"]);
    // setup-alpine got the shipped answer file and the disk it names.
    expect(sb!.read("/.shim/setup-alpine.answers")).toBe(http("answers"));
    expect(sb!.read("/.shim/setup-alpine.env")).toBe("HOMELAB_DISK=/dev/vda\nERASE_DISKS=/dev/vda\n");
    expect(sb!.read("/.shim/setup-disk.opts")).toBe("-s 0 -m sys /dev/vda\n");
    expect(sb!.calls()).toEqual(["setup-interfaces -a -r", "setup-alpine -e -f /tmp/answers", "rc-update add sshd default", "rc-service sshd start", "mount /dev/vda1 /mnt/target", "umount /mnt/target", "mount /dev/vda2 /mnt/target", "chroot /mnt/target chpasswd", "umount /mnt/target", "reboot"]);
    const root = "/.shim/disk/vda2";
    // Exactly this release's main and community, from the configured mirror.
    expect(sb!.read(`${root}/etc/apk/repositories`)).toBe("https://mirror.example.org/alpine/v3.24/main\nhttps://mirror.example.org/alpine/v3.24/community\n");
    expect(sb!.read(`${root}/etc/shadow`)).toMatch(/^root:\$6\$shim\$vagrant:/);
    expect(sb!.read(`${root}/etc/ssh/sshd_config.d/10-homelab-build.conf`)).toContain("PermitRootLogin yes\n");
    expect(sb!.read(`${root}/etc/ssh/sshd_config`).split("\n")[0]).toBe("Include /etc/ssh/sshd_config.d/*.conf");
    // Nothing is left mounted when it reboots.
    expect(sb!.read("/.shim/mounted")).toBe("");
    expect(r.stdout).toContain("homelab-install: installed root is /dev/vda2");
  });

  it("stops before setup-alpine when the machine has no virtual disk", async () => {
    sb!.dispose();
    sb = await Sandbox.create({ shims: LIVE_ISO_SHIMS, files: LIVE_ISO_FILES });
    const r = await sb.exec(["/bb/sh", "-c", typed(server!.url)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("no virtual disk found");
    expect(sb.callsOf("setup-alpine")).toEqual([]);
  });
});
