import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** What a client run printed (stdout and stderr interleaved) and how it ended. */
export interface ClientRun {
  readonly code: number;
  readonly output: string;
}

/**
 * Runs a command with its output captured. Async on purpose: the registry under test runs in the
 * test's own process and must keep answering while the client runs.
 */
export function runClient(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    if (input !== undefined) child.stdin!.end(input);
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
  });
}

export interface VagrantClientOptions {
  /** VAGRANT_HOME: a temporary directory of the test's (it need not exist yet). */
  readonly home: string;
  /** VAGRANT_SERVER_URL: where `org/box` names and `vagrant cloud` go. */
  readonly serverUrl?: string;
  /** VAGRANT_CLOUD_TOKEN; without it none is passed on, even if the test's environment has one. */
  readonly token?: string;
}

/** A box `vagrant box add` put into VAGRANT_HOME. */
export interface AddedBox extends ClientRun {
  /** boxes/<name>/<version>/<provider>[/<arch>] holding metadata.json, when the add succeeded. */
  readonly dir?: string;
  /** Its metadata.json, parsed. */
  readonly metadata?: Record<string, unknown>;
  /** The `marker` file test boxes (makeBox with a marker) carry, naming which build arrived. */
  readonly marker?: string;
}

/**
 * Debian's real Vagrant 2.3.4 with its own temporary VAGRANT_HOME: checkpoint (the phone-home)
 * disabled, system plugins loaded (vagrant-libvirt, so `--provider libvirt` boxes are accepted),
 * and VAGRANT_SERVER_URL / VAGRANT_CLOUD_TOKEN only when the test gives them.
 */
export class VagrantClient {
  readonly home: string;
  private readonly serverUrl: string | undefined;
  private readonly token: string | undefined;

  constructor(opts: VagrantClientOptions) {
    this.home = opts.home;
    this.serverUrl = opts.serverUrl;
    this.token = opts.token;
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, VAGRANT_HOME: this.home, VAGRANT_CHECKPOINT_DISABLE: "1", VAGRANT_NO_PLUGINS: "" };
    // Nothing from the test's own environment decides which server or token the client uses.
    delete env.VAGRANT_SERVER_URL;
    delete env.VAGRANT_CLOUD_TOKEN;
    delete env.ATLAS_TOKEN;
    if (this.serverUrl !== undefined) env.VAGRANT_SERVER_URL = this.serverUrl;
    if (this.token !== undefined) env.VAGRANT_CLOUD_TOKEN = this.token;
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    return env;
  }

  /** `vagrant ARGS`; `env` adds to or (with undefined) removes from the client's environment. */
  run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ClientRun> {
    return runClient("vagrant", args, this.env(env));
  }

  /**
   * `vagrant ARGS` on a terminal (util-linux `script` gives it one), typing `input`: for the
   * prompts Vagrant only shows on a TTY (a password).
   */
  runOnTerminal(args: string[], input: string, env: NodeJS.ProcessEnv = {}): Promise<ClientRun> {
    const quoted = ["vagrant", ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
    return runClient("script", ["-qec", quoted, "/dev/null"], this.env(env), input);
  }

  /** `vagrant box add BOX --provider P [--box-version V]`, and what it added. */
  async addBox(box: string, opts: { provider?: string; version?: string; env?: NodeJS.ProcessEnv } = {}): Promise<AddedBox> {
    const provider = opts.provider ?? "libvirt";
    const args = ["box", "add", "--provider", provider, ...(opts.version === undefined ? [] : ["--box-version", opts.version]), box];
    const r = await this.run(args, opts.env);
    if (r.code !== 0) return r;
    // Vagrant names the box after the catalog's `name`, and says which version it added.
    const m = /Successfully added box '([^']+)' \(v([^)]+)\) for '([^']+)'/.exec(r.output);
    if (!m) return r;
    const dir = this.boxDir(m[1]!, m[2]!, m[3]!);
    if (dir === undefined) return r;
    return { ...r, dir, metadata: JSON.parse(readFileSync(join(dir, "metadata.json"), "utf8")) as Record<string, unknown>, ...markerOf(dir) };
  }

  /** The directory of an added box (Vagrant 2.3: name/version/provider; 2.4 adds an architecture level). */
  boxDir(name: string, version: string, provider: string): string | undefined {
    const base = join(this.home, "boxes", name.replaceAll("/", "-VAGRANTSLASH-"), version, provider);
    if (!existsSync(base)) return undefined;
    if (existsSync(join(base, "metadata.json"))) return base;
    const arch = readdirSync(base, { withFileTypes: true }).find((e) => e.isDirectory() && existsSync(join(base, e.name, "metadata.json")));
    return arch ? join(base, arch.name) : undefined;
  }

  /** The marker of an added box version (any provider), or undefined when it is not there. */
  marker(name: string, version: string): string | undefined {
    const root = join(this.home, "boxes", name.replaceAll("/", "-VAGRANTSLASH-"), version);
    return existsSync(root) ? findMarker(root) : undefined;
  }

  /** The versions of a box left in VAGRANT_HOME that still hold a box (`box prune` leaves empty directories). */
  versions(name: string): string[] {
    const root = join(this.home, "boxes", name.replaceAll("/", "-VAGRANTSLASH-"));
    if (!existsSync(root)) return [];
    return readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && readdirSync(join(root, e.name)).length > 0)
      .map((e) => e.name)
      .sort();
  }
}

function markerOf(dir: string): { marker?: string } {
  const p = join(dir, "marker");
  return existsSync(p) ? { marker: readFileSync(p, "utf8") } : {};
}

function findMarker(dir: string): string | undefined {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const found = findMarker(p);
      if (found !== undefined) return found;
    } else if (e.name === "marker") return readFileSync(p, "utf8");
  }
  return undefined;
}
