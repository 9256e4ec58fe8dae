/**
 * Runs the in-VM shell scripts a bundle ships against a throw-away root directory, as Alpine (or
 * Debian) would.
 *
 * The root is a temporary directory mounted as `/` by bubblewrap, so a script sees only that tree:
 * it writes its files there and the test reads them back. The userland is BusyBox (the static
 * binary, applets linked in /bb), so a GNU-only option fails here as it would on Alpine. Commands
 * that would touch the real machine (apk, rc-update, modprobe, containerd ...) are shims on PATH
 * before BusyBox: each one appends its name and arguments to a call log, then runs a small sh body
 * (see shims.ts) that may keep state under /.shim. Network is the host's: scripts download
 * from a local HTTP server on 127.0.0.1 with the real BusyBox wget.
 *
 * With `userland: "debian"` the userland is the host's Debian tools instead (dash as sh, GNU
 * coreutils, mawk as awk, curl ...: an allow-list copied once per test process, mounted read-only
 * at /deb), so the Debian scripts run under the same shell and tools as on Debian 12. Only the
 * host's multiarch library directory is mounted, which keeps /usr/lib of the root writable (Debian
 * packages install there, e.g. /usr/lib/cni).
 *
 *   const sb = await Sandbox.create({ files: { "/etc/fstab": "..." }, shims: ALPINE.shims });
 *   const r = await sb.run(shippedScript("alpine", "k8s-swap"), { });
 *   expect(sb.calls()).toEqual(["swapoff -a"]);
 *   expect(sb.read("/etc/fstab")).toBe("...");
 */
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** Where BusyBox's applets live inside the sandbox, and the PATH scripts run with. */
const BB_DIR = "/bb";
const SHIM_DIR = "/shims";
export const STATE_DIR = "/.shim";
export const CALL_LOG = `${STATE_DIR}/calls.log`;
const DEB_DIR = "/deb";
const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export type Userland = "busybox" | "debian";
const USERLAND_DIR: Record<Userland, string> = { busybox: BB_DIR, debian: DEB_DIR };

/**
 * The Debian tools the scripts may use without a shim. Anything else is "not found", as on a
 * minimal Debian: a script that needs more must install it (apt-get) or the test must shim it.
 * Host tools that touch the machine (apt-get, systemctl, mount ...) are never on this list.
 */
const DEBIAN_TOOLS: Record<string, string> = {
  sh: "dash", dash: "dash", awk: "mawk", mawk: "mawk",
  ...Object.fromEntries(
    ["cat", "chmod", "cp", "mv", "mkdir", "rm", "rmdir", "ln", "ls", "touch", "wc", "tr", "sort", "head", "tail", "cut",
      "basename", "dirname", "mktemp", "sha256sum", "id", "sleep", "sync", "env", "true", "false", "printf", "stat",
      "readlink", "grep", "sed", "find", "xargs", "tar", "gzip", "curl", "diff", "cmp"].map((t) => [t, t]),
  ),
};

export type FileSpec = string | Buffer | { content: string | Buffer; mode?: number };

export interface SandboxOptions {
  /** Files to create in the root before anything runs, by absolute in-sandbox path. */
  files?: Record<string, FileSpec>;
  /** Shim name → sh body run after the call is logged ("$@" are the arguments, $STATE the state dir). */
  shims?: Record<string, string>;
  /** Whose userland the scripts see (default BusyBox, as on Alpine). */
  userland?: Userland;
  /**
   * Block devices to show inside, by in-sandbox path (e.g. /dev/vda): each is a bind of one of
   * the host's block devices, so `[ -b /dev/vda ]` holds as on a VM. Only its type is
   * meant to be seen: nothing in the sandbox can open it (the host's nodes are root-only).
   */
  blockDevices?: string[];
}

/** A script as a bundle ships it: its file name under scripts/ and its text. */
export interface ShippedScript {
  name: string;
  text: string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

let sharedBbDir: string | undefined;

/**
 * One directory per test process holding BusyBox and a symlink per applet, mounted read-only as
 * /bb in every sandbox (building it per sandbox would cost more than the script runs).
 */
function busyboxDir(): string {
  if (!sharedBbDir) {
    const path = execFileSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).trim();
    const applets = execFileSync(path, ["--list"], { encoding: "utf8" }).split("\n").filter(Boolean);
    const dir = mkdtempSync(join(tmpdir(), "homelab-bb-"));
    writeFileSync(join(dir, "busybox"), readFileSync(path), { mode: 0o755 });
    for (const applet of applets) if (applet !== "busybox") symlinkSync("busybox", join(dir, applet));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    sharedBbDir = dir;
  }
  return sharedBbDir;
}

let sharedDebDir: string | undefined;

/** One directory per test process holding copies of the allow-listed host Debian tools. */
function debianDir(): string {
  if (!sharedDebDir) {
    const dir = mkdtempSync(join(tmpdir(), "homelab-deb-"));
    for (const [name, tool] of Object.entries(DEBIAN_TOOLS)) {
      // Not `command -v`: it names shell builtins (true, printf) instead of their executables.
      const path = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map((d) => join(d, tool)).find((p) => existsSync(p)) ?? "";
      if (!path.startsWith("/")) throw new Error(`host tool ${tool} for the Debian sandbox is not an executable (got '${path}')`);
      writeFileSync(join(dir, name), readFileSync(path), { mode: 0o755 });
    }
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    sharedDebDir = dir;
  }
  return sharedDebDir;
}

/** Host directories holding the shared libraries of the Debian tools (the multiarch ones). */
function debianLibDirs(): string[] {
  return ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64"].filter((d) => lstatOrUndefined(d)?.isDirectory());
}

export class Sandbox {
  private constructor(readonly root: string, readonly userland: Userland, private readonly blockDevices: string[] = []) {}

  static async create(options: SandboxOptions = {}): Promise<Sandbox> {
    const root = mkdtempSync(join(tmpdir(), "homelab-sandbox-"));
    const sb = new Sandbox(root, options.userland ?? "busybox", options.blockDevices);
    for (const dir of ["bb", "shims", ".shim", "etc", "var/tmp", "var/log", "tmp", "run", "root", "home", "usr/bin", "usr/local/bin", "proc/self", "proc/sys", "sys/module", "dev", "scripts"]) {
      mkdirSync(join(root, dir), { recursive: true });
    }
    chmodSync(join(root, "tmp"), 0o1777);
    // The dynamic BusyBox needs the host's libc: mirror /lib* symlinks, mount real dirs at run.
    mkdirSync(join(root, "usr"), { recursive: true });
    for (const dir of LIB_DIRS) {
      const st = lstatOrUndefined(dir);
      if (st?.isSymbolicLink()) symlinkSync(readlinkSync(dir), join(root, dir.slice(1)));
    }
    writeFileSync(join(root, CALL_LOG.slice(1)), "");
    for (const [name, body] of Object.entries(options.shims ?? {})) sb.shim(name, body);
    for (const [path, spec] of Object.entries(options.files ?? {})) sb.write(path, spec);
    return sb;
  }

  /** Host path of an in-sandbox absolute path. */
  path(p: string): string {
    if (!p.startsWith("/")) throw new Error(`sandbox paths are absolute, got ${p}`);
    return join(this.root, p.slice(1));
  }

  /** Install (or replace) a shim: every call is logged, then `body` runs. */
  shim(name: string, body: string): void {
    const script = [
      `#!${USERLAND_DIR[this.userland]}/sh`,
      `STATE=${STATE_DIR}`,
      `{ printf '%s' ${shQuote(name)}; for a in "$@"; do printf ' %s' "$a"; done; printf '\\n'; } >>${CALL_LOG}`,
      body,
      "",
    ].join("\n");
    writeFileSync(this.path(`${SHIM_DIR}/${name}`), script, { mode: 0o755 });
  }

  write(p: string, spec: FileSpec): void {
    const { content, mode } = typeof spec === "string" || Buffer.isBuffer(spec) ? { content: spec, mode: undefined } : spec;
    const host = this.path(p);
    mkdirSync(dirname(host), { recursive: true });
    writeFileSync(host, content);
    if (mode !== undefined) chmodSync(host, mode);
  }

  read(p: string): string {
    return readFileSync(this.path(p), "utf8");
  }

  exists(p: string): boolean {
    try {
      lstatSync(this.path(p));
      return true;
    } catch {
      return false;
    }
  }

  /** Permission bits of a file, e.g. 0o600. */
  mode(p: string): number {
    return statSync(this.path(p)).mode & 0o7777;
  }

  /** Every shim call so far, one "name arg1 arg2 ..." string each, in order. */
  calls(): string[] {
    return this.read(CALL_LOG).split("\n").filter(Boolean);
  }

  /** Calls of one command only. */
  callsOf(name: string): string[] {
    return this.calls().filter((c) => c === name || c.startsWith(`${name} `));
  }

  clearCalls(): void {
    writeFileSync(this.path(CALL_LOG), "");
  }

  /**
   * Run a shipped script the way Packer's shell provisioner does (`{{ .Vars }} sh '<path>'` as
   * root), with exactly `env` plus PATH: nothing of the host's environment leaks in. The script
   * is copied to /scripts/<name> in the root first.
   */
  run(script: ShippedScript, env: Record<string, string> = {}, stdin = ""): Promise<RunResult> {
    this.write(`/scripts/${script.name}`, { content: script.text, mode: 0o755 });
    return this.exec([`${USERLAND_DIR[this.userland]}/sh`, `/scripts/${script.name}`], env, stdin);
  }

  /** Run any command line inside the sandbox (same mounts and environment rules as `run`). */
  exec(argv: string[], env: Record<string, string> = {}, stdin = ""): Promise<RunResult> {
    const debian = this.userland === "debian";
    const libDirs = debian ? debianLibDirs() : LIB_DIRS.filter((d) => lstatOrUndefined(d)?.isDirectory());
    const libBinds = libDirs.flatMap((d) => ["--ro-bind", d, d]);
    const toolsDir = USERLAND_DIR[this.userland];
    const args = [
      "--bind", this.root, "/",
      ...libBinds,
      "--ro-bind", debian ? debianDir() : busyboxDir(), toolsDir,
      "--dev", "/dev",
      ...this.blockDevices.flatMap((d) => ["--dev-bind", hostBlockDevice(), d]),
      "--chdir", "/",
      "--die-with-parent",
      ...argv,
    ];
    return new Promise((resolvePromise, reject) => {
      const child = spawn("bwrap", args, { env: { PATH: `${SHIM_DIR}:${toolsDir}:${SYSTEM_PATH}`, HOME: "/root", ...env }, stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("error", reject);
      child.on("close", (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
      // A command that exits without reading all of its stdin closes the pipe under our write:
      // EPIPE then. Its exit code tells the test what happened; the write error is no news, and
      // without a listener it would be an uncaught exception failing the whole run.
      child.stdin.on("error", (err: NodeJS.ErrnoException) => {
        if (err.code !== "EPIPE" && err.code !== "ECONNRESET") reject(err);
      });
      child.stdin.end(stdin);
    });
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Any block device node of the host, to bind where a sandbox needs one ("" if there is none). */
export function hostBlockDevice(): string {
  for (const name of ["loop0", "vda", "sda", "nvme0n1", "loop1", "zram0"]) {
    const path = `/dev/${name}`;
    if (lstatOrUndefined(path)?.isBlockDevice()) return path;
  }
  return "";
}

const LIB_DIRS = ["/lib", "/lib32", "/lib64", "/usr/lib", "/usr/lib32", "/usr/lib64"];

function lstatOrUndefined(p: string) {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
