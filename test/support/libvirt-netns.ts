/**
 * A private libvirt for the end-to-end test: libvirtd and virtlogd run inside a network namespace
 * the test makes, so the VMs' bridge, their 192.168.121.x addresses and dnsmasq exist only there.
 * Nothing is forwarded out of the namespace and no address is ever put on the host's own
 * namespace. virsh reaches libvirtd over its unix socket (the filesystem is shared), so it works
 * from outside; `vagrant` must run inside (`run`) to reach the VM over SSH.
 *
 * The management network (`vagrant-libvirt`, vagrant-libvirt's default name and subnet) and the
 * storage pool (`default`, vagrant-libvirt's default) are made TRANSIENT, the pool in the run's
 * own directory: nothing is written to /etc/libvirt or /var/lib/libvirt/images, and both vanish
 * when they are stopped. The network is isolated (no <forward>); dnsmasq gets `no-resolv` (there is
 * nothing to resolve against) and a default route option (kubeadm and CNIs want a default route).
 *
 * Host settings it needs, made once by scripts/install-test-deps.sh (not by this file, which only
 * checks them): `cgroup_controllers = [ ]` in /etc/libvirt/qemu.conf, else libvirt (with no
 * systemd here) would move qemu into /machine cgroups at the root, out of the run's own cgroup.
 *
 * It refuses to start when the namespace name is taken or when a libvirtd already answers on the
 * system socket (it would be someone else's), and when a network or pool of the names it needs is
 * already defined in libvirt's configuration (it would be the user's). `stop()` undoes everything
 * it did, in reverse, whatever state the run left: it is safe to call from afterAll on failure.
 *
 *   const lv = await LibvirtNetns.start({ name: "homelab-e2e", dir });
 *   await lv.run("vagrant", ["up", "--provider", "libvirt"], { cwd, env });
 *   const problems = await lv.stop();
 */
import { spawn } from "node:child_process";
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join, resolve } from "node:path";

export const MANAGEMENT_NETWORK = "vagrant-libvirt";
export const MANAGEMENT_SUBNET = "192.168.121";
export const STORAGE_POOL = "default";
const LIBVIRT_SOCKET = "/run/libvirt/libvirt-sock";
const VIRTLOGD_SOCKET = "/run/libvirt/virtlogd-sock";
const QEMU_CONF = "/etc/libvirt/qemu.conf";
const URI = "qemu:///system";

export interface RunResult {
  code: number;
  output: string;
  seconds: number;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Appends the command's output here as it comes (Vagrant's `\r` progress lines become lines). */
  log?: string;
  timeoutMs?: number;
}

/** What existed in libvirt before the run: teardown touches only what is not in it. */
interface Before {
  domains: Set<string>;
  networks: Set<string>;
  pools: Set<string>;
}

export class LibvirtNetns {
  private readonly undo: Array<{ what: string; fn: () => Promise<void> }> = [];
  private before: Before = { domains: new Set(), networks: new Set(), pools: new Set() };
  private stopped = false;

  private constructor(
    readonly name: string,
    readonly dir: string,
  ) {}

  get poolDir(): string {
    return join(this.dir, "pool");
  }

  get libvirtdLog(): string {
    return join(this.dir, "libvirtd.log");
  }

  static async start(opts: { name: string; dir: string }): Promise<LibvirtNetns> {
    const lv = new LibvirtNetns(opts.name, opts.dir);
    try {
      await lv.setUp();
    } catch (err) {
      const problems = await lv.stop();
      if (problems.length > 0) (err as Error).message += `\nteardown after the failed setup: ${problems.join("; ")}`;
      throw err;
    }
    return lv;
  }

  private async setUp(): Promise<void> {
    const namespaces = (await sh("ip", ["netns", "list"])).output.split("\n").map((l) => l.split(" ")[0]);
    if (namespaces.includes(this.name)) {
      throw new Error(`network namespace '${this.name}' already exists (a previous run, or someone else's): check \`ip netns pids ${this.name}\`, then \`ip netns del ${this.name}\``);
    }
    if (await socketAnswers(LIBVIRT_SOCKET)) throw new Error(`a libvirtd already answers on ${LIBVIRT_SOCKET}: the test starts its own inside a namespace and will not share one`);
    if (await socketAnswers(VIRTLOGD_SOCKET)) throw new Error(`a virtlogd already answers on ${VIRTLOGD_SOCKET}`);
    if (!/^\s*cgroup_controllers\s*=\s*\[\s*\]/m.test(readFileSync(QEMU_CONF, "utf8"))) {
      throw new Error(`${QEMU_CONF} has no 'cgroup_controllers = [ ]' (scripts/install-test-deps.sh sets it): without systemd, libvirt would move qemu out of this run's cgroup`);
    }
    mkdirSync(this.dir, { recursive: true });

    await must("ip", ["netns", "add", this.name]);
    this.undo.push({ what: "ip netns del", fn: async () => void (await must("ip", ["netns", "del", this.name])) });
    await must("ip", ["netns", "exec", this.name, "ip", "link", "set", "lo", "up"]);

    mkdirSync("/run/libvirt", { recursive: true });
    const virtlogdPid = join(this.dir, "virtlogd.pid");
    const libvirtdPid = join(this.dir, "libvirtd.pid");
    // Any process left in the namespace was started by this run (libvirtd, dnsmasq, qemu, vagrant).
    this.undo.push({ what: "processes in the namespace", fn: () => this.killNamespaceProcesses() });
    await must("ip", ["netns", "exec", this.name, "/usr/sbin/virtlogd", "--daemon", "--pid-file", virtlogdPid]);
    this.undo.push({ what: "virtlogd", fn: () => killByPidFile(virtlogdPid) });
    await must("ip", ["netns", "exec", this.name, "/usr/sbin/libvirtd", "--daemon", "--pid-file", libvirtdPid], {
      env: { ...process.env, LIBVIRT_LOG_OUTPUTS: `3:file:${this.libvirtdLog}` },
    });
    this.undo.push({ what: "libvirtd", fn: () => killByPidFile(libvirtdPid) });
    await waitFor(async () => (await this.virsh(["version"])).code === 0, 30_000, "libvirtd did not answer within 30 s");

    this.before = {
      domains: new Set(await this.names(["list", "--all", "--name"])),
      networks: new Set(await this.names(["net-list", "--all", "--name"])),
      pools: new Set(await this.names(["pool-list", "--all", "--name"])),
    };
    if (this.before.networks.has(MANAGEMENT_NETWORK)) throw new Error(`libvirt already has a network '${MANAGEMENT_NETWORK}' defined (someone else's): the test will not use or change it`);
    if (this.before.pools.has(STORAGE_POOL)) throw new Error(`libvirt already has a storage pool '${STORAGE_POOL}' defined (someone else's): the test will not use or change it`);
    // Everything new in libvirt is this run's: domains vagrant left, the network, the pool.
    this.undo.push({ what: "libvirt objects", fn: () => this.removeNewObjects() });

    const netXml = join(this.dir, "management-network.xml");
    writeFileSync(netXml, managementNetworkXml());
    await this.mustVirsh(["net-create", netXml]);
    // qemu runs as libvirt's own user (libvirt-qemu): it must be able to reach the disks.
    mkdirSync(this.poolDir, { recursive: true });
    chmodSync(this.dir, 0o711);
    chmodSync(this.poolDir, 0o711);
    const closed = ancestors(this.poolDir).filter((d) => (statSync(d).mode & 0o001) === 0);
    if (closed.length > 0) throw new Error(`qemu (user libvirt-qemu) could not reach the pool ${this.poolDir}: no search permission for others on ${closed.join(", ")}`);
    await this.mustVirsh(["pool-create-as", STORAGE_POOL, "dir", "--target", this.poolDir]);

    // The whole point: the VM subnet exists inside the namespace and nowhere else.
    const inside = await must("ip", ["netns", "exec", this.name, "ip", "-4", "-o", "addr", "show"]);
    if (!inside.output.includes(`${MANAGEMENT_SUBNET}.1/24`)) throw new Error(`the management network has no ${MANAGEMENT_SUBNET}.1 address inside the namespace:\n${inside.output}`);
    const host = await must("ip", ["-4", "-o", "addr", "show"]);
    if (host.output.includes(`${MANAGEMENT_SUBNET}.`)) throw new Error(`the host's own namespace has an address in ${MANAGEMENT_SUBNET}.0/24:\n${host.output}`);
  }

  /** Runs a command inside the namespace (vagrant, ssh ...). Never throws for a non-zero exit. */
  run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return sh("ip", ["netns", "exec", this.name, cmd, ...args], opts);
  }

  /** virsh against the namespace's libvirtd (through its unix socket, from outside). */
  virsh(args: readonly string[]): Promise<RunResult> {
    return sh("virsh", ["-q", "-c", URI, ...args], { timeoutMs: 60_000 });
  }

  async names(args: readonly string[]): Promise<string[]> {
    const r = await this.mustVirsh(args);
    return r.output.split("\n").map((l) => l.trim()).filter(Boolean);
  }

  /** Addresses inside the namespace, one `ip -o addr` line each. */
  async addresses(): Promise<string> {
    return (await must("ip", ["netns", "exec", this.name, "ip", "-4", "-o", "addr", "show"])).output;
  }

  /** Domains, networks and pools that exist now and did not before the run. */
  async newObjects(): Promise<{ domains: string[]; networks: string[]; pools: string[] }> {
    return {
      domains: (await this.names(["list", "--all", "--name"])).filter((n) => !this.before.domains.has(n)),
      networks: (await this.names(["net-list", "--all", "--name"])).filter((n) => !this.before.networks.has(n)),
      pools: (await this.names(["pool-list", "--all", "--name"])).filter((n) => !this.before.pools.has(n)),
    };
  }

  private async mustVirsh(args: readonly string[]): Promise<RunResult> {
    const r = await this.virsh(args);
    if (r.code !== 0) throw new Error(`virsh ${args.join(" ")} failed (exit ${r.code}): ${r.output.trim()}`);
    return r;
  }

  private async removeNewObjects(): Promise<void> {
    const { domains, networks, pools } = await this.newObjects();
    for (const d of domains) {
      await this.virsh(["destroy", d]); // fails harmlessly when it is not running
      await this.mustVirsh(["undefine", d, "--managed-save", "--snapshots-metadata", "--nvram"]);
    }
    for (const n of networks) {
      const persistent = (await this.mustVirsh(["net-info", n])).output.match(/^Persistent:\s+(\S+)/m)?.[1] === "yes";
      await this.virsh(["net-destroy", n]);
      if (persistent) await this.mustVirsh(["net-undefine", n]);
    }
    for (const p of pools) {
      const persistent = (await this.mustVirsh(["pool-info", p])).output.match(/^Persistent:\s+(\S+)/m)?.[1] === "yes";
      await this.virsh(["pool-destroy", p]);
      if (persistent) await this.mustVirsh(["pool-undefine", p]);
    }
  }

  private async killNamespaceProcesses(): Promise<void> {
    const pids = async () =>
      (await sh("ip", ["netns", "pids", this.name])).output.split("\n").map((l) => Number(l.trim())).filter((n) => Number.isInteger(n) && n > 0);
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      const left = await pids();
      if (left.length === 0) return;
      for (const pid of left) tryKill(pid, signal);
      await waitFor(async () => (await pids()).length === 0, 10_000, "").catch(() => undefined);
    }
    const left = await pids();
    if (left.length > 0) throw new Error(`processes still in the namespace: ${left.join(", ")}`);
  }

  /**
   * Undoes the setup in reverse, each step even when an earlier one failed. Returns what could
   * not be undone (empty when everything is gone); calling it twice is harmless.
   */
  async stop(): Promise<string[]> {
    if (this.stopped) return [];
    this.stopped = true;
    const problems: string[] = [];
    for (const step of this.undo.reverse()) {
      try {
        await step.fn();
      } catch (err) {
        problems.push(`${step.what}: ${(err as Error).message}`);
      }
    }
    return problems;
  }
}

/** A path and every directory above it, up to /. */
function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let d = resolve(path); ; d = dirname(d)) {
    out.push(d);
    if (dirname(d) === d) return out;
  }
}

/** The isolated management network vagrant-libvirt looks for by name (its default subnet). */
function managementNetworkXml(): string {
  return `<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'>
  <name>${MANAGEMENT_NETWORK}</name>
  <ip address='${MANAGEMENT_SUBNET}.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='${MANAGEMENT_SUBNET}.2' end='${MANAGEMENT_SUBNET}.254'/>
    </dhcp>
  </ip>
  <dnsmasq:options>
    <dnsmasq:option value='no-resolv'/>
    <dnsmasq:option value='dhcp-option=option:router,${MANAGEMENT_SUBNET}.1'/>
  </dnsmasq:options>
</network>
`;
}

/** Runs a command to its end; output is stdout and stderr interleaved. Never throws for an exit code. */
export function sh(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const take = (d: Buffer): void => {
      const text = d.toString().replace(/\r(?!\n)/g, "\n");
      output += text;
      if (opts.log) appendFileSync(opts.log, text);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill("SIGTERM"), opts.timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ code: 127, output: `${output}${err.message}`, seconds: (Date.now() - started) / 1000 });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), output, seconds: (Date.now() - started) / 1000 });
    });
  });
}

async function must(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await sh(cmd, args, { timeoutMs: 60_000, ...opts });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.code}): ${r.output.trim()}`);
  return r;
}

function socketAnswers(path: string): Promise<boolean> {
  if (!existsSync(path)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

function tryKill(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function killByPidFile(file: string): Promise<void> {
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  tryKill(pid, "SIGTERM");
  await waitFor(async () => !alive(pid), 15_000, "").catch(() => tryKill(pid, "SIGKILL"));
  await waitFor(async () => !alive(pid), 5_000, `pid ${pid} (${file}) did not exit`);
}

async function waitFor(cond: () => Promise<boolean>, ms: number, message: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(message);
    await new Promise((r) => setTimeout(r, 200));
  }
}
