/**
 * END-TO-END, SLOW (under TCG on 2 cores: 21 minutes measured with the cores shared at a load of
 * ~15; an idle machine should need about a third of that, going by the build and `vagrant up`
 * figures measured alone; plus about 2 minutes the first time the Debian
 * base image is made): the chain a user runs, with the real tools at every seam.
 *
 *   homelab build --publish  (Debian 12, own base image, kubeadm, bake none; Packer + qemu for real)
 *     → into a registry served by `homelab box serve` over HTTP, with a write token
 *   vagrant box add ci/debian-12-k8snode-kubeadm   (short name, through VAGRANT_SERVER_URL)
 *   packer build: artifice (the built .box) → Packer 1.6.6's vagrant-cloud post-processor, into
 *     the same server's Vagrant Cloud API as 0.2.0 with a token scoped to the org; then
 *     vagrant box add --box-version 0.2.0 (a scratch VAGRANT_HOME) gets those very bytes
 *   vagrant up --provider libvirt                   (Vagrant's defaults but for TCG emulation; libvirtd
 *                                                    runs in a network namespace the test makes)
 *   vagrant ssh: the clone is a node with its own identity; the build's node-verify passes again
 *   vagrant destroy: nothing of the clone is left
 *   homelab build again: a cache hit; a cancelled rebuild leaves the finished box alone
 *
 * `vagrant up` warns that it could not check the box for updates: the registry listens on the
 * host's loopback, and Vagrant runs inside the namespace, which has its own. That is expected.
 *
 * One build, one VM boot. Each phase's time and the box's size are printed as
 * `e2e-phase: <name> <seconds>` and `e2e-box-size: <bytes>` lines.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { hashFile, type BuildRecord } from "../../src/builder/record.js";
import { BIN, runCli } from "../support/cli.js";
import { openGuestDisk } from "../support/disk-image.js";
import { debianBaseImage, e2eBoxProject, handOverBuild, qemuProcesses } from "../support/e2e.js";
import type { FixtureServer } from "../support/fixture-server.js";
import { parseHcl } from "../support/hcl.js";
import { LibvirtNetns, MANAGEMENT_SUBNET, sh, STORAGE_POOL } from "../support/libvirt-netns.js";
import { packerEnv, vagrantCloudTemplate } from "../support/packer-vagrant-cloud.js";
import { needTool } from "../support/tools.js";

const BOX = "ci/debian-12-k8snode-kubeadm";
const NETNS = "homelab-e2e";
const TOKEN = randomBytes(24).toString("hex");
/** A write token scoped to the box's organisation only, as a user gives to CI for Packer. */
const PACKER_TOKEN = randomBytes(24).toString("hex");
/** The version Packer publishes from the same .box, after the build published 0.1.0. */
const PACKED_VERSION = "0.2.0";
const PACKED_DESCRIPTION = "published by Packer's vagrant-cloud post-processor";
/** vagrant-libvirt names the domain <project dir>_<machine>. */
const NODE_DIR = "node";
const DOMAIN = `${NODE_DIR}_default`;

/**
 * A user's Vagrantfile for the box, with Vagrant's defaults except where this machine differs.
 * The box (own Debian image, bake none) has no rsync, and vagrant-libvirt's default synced folder
 * is rsync, which would make `vagrant up` try `apt-get install rsync` in the guest: it is off.
 */
const VAGRANTFILE = `Vagrant.configure("2") do |config|
  config.vm.box = "${BOX}"
  config.vm.synced_folder ".", "/vagrant", disabled: true
  config.vm.provider :libvirt do |libvirt|
    # /dev/kvm is not usable here: TCG with a generic CPU (on a user's machine: kvm, host-passthrough).
    libvirt.driver = "qemu"
    libvirt.cpu_mode = "custom"
    libvirt.cpu_model = "qemu64"
    # The test defined the isolated management network itself: use it as it is, keep it on destroy.
    libvirt.management_network_mode = "none"
    libvirt.management_network_keep = true
  end
end
`;

const ready = ["packer", "qemu-system-x86_64", "debootstrap", "qemu-img", "vagrant", "virsh", "libvirtd", "virtlogd", "dnsmasq", "ip", "debugfs", "sfdisk", "ssh-keyscan"]
  .map((tool) => needTool(tool))
  .every(Boolean);

describe.skipIf(!ready)("the chain a user runs: build --publish → serve → vagrant box add → vagrant up (real VMs, TCG)", () => {
  let dir: string;
  let buildDir: string;
  let record: BuildRecord;
  let baseImage: string;
  let registry: { url: string; child: ChildProcess; log: string };
  /** containerd's and runc's releases (real binaries, test/support/containerd-release.ts) on the host's loopback. */
  let releases: FixtureServer | undefined;
  /** The e2e box's homelab.yaml (test/support/e2e.ts e2eBoxProject), handed to the cluster e2e with the build. */
  let config = "";
  let lv: LibvirtNetns | undefined;
  const phases: Array<[string, number]> = [];
  let boxSize: number | undefined;
  let failed = false;
  const vagrantHome = () => join(dir, "vagrant-home");
  const nodeDir = () => join(dir, NODE_DIR);
  const vagrantLog = () => join(dir, "vagrant.log");
  const vagrantEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, VAGRANT_HOME: vagrantHome(), VAGRANT_CHECKPOINT_DISABLE: "1", ...extra };
    // A token of the caller's would be sent to our registry (and costs a 5 s warning per run).
    delete env.VAGRANT_CLOUD_TOKEN;
    if (extra.VAGRANT_SERVER_URL === undefined) delete env.VAGRANT_SERVER_URL;
    return env;
  };
  /** `vagrant` inside the namespace, in the node's project directory. */
  const vagrant = (args: string[], timeoutMs = 5 * 60_000) => lv!.run("vagrant", args, { cwd: nodeDir(), env: vagrantEnv(), log: vagrantLog(), timeoutMs });

  beforeAll(async () => {
    const base = debianBaseImage();
    baseImage = base.image;
    dir = mkdtempSync(join(tmpdir(), "homelab-e2e-build-"));
    // The VM disks live below it, and qemu runs as libvirt's own user: it must pass through.
    chmodSync(dir, 0o711);
    const project = await e2eBoxProject();
    releases = project.releases;
    config = project.config;
    writeFileSync(join(dir, "homelab.yaml"), config);
    registry = await serveRegistry(join(dir, "registry"), join(dir, "access.json"), join(dir, "registry.log"));
  }, 15 * 60_000);

  afterAll(async () => {
    const problems: string[] = [];
    if (lv) {
      // A failed test may have left the clone running: destroy it the way a user would first.
      if ((await lv.newObjects().catch(() => ({ domains: [] as string[] }))).domains.length > 0) await vagrant(["destroy", "-f"]);
      problems.push(...(await lv.stop()));
      const namespaces = (await sh("ip", ["netns", "list"])).output;
      if (namespaces.split("\n").some((l) => l.split(" ")[0] === NETNS)) problems.push(`namespace ${NETNS} still exists`);
    }
    if (registry) await stopProcess(registry.child);
    await releases?.close();
    if (boxSize !== undefined) console.log(`e2e-box-size: ${boxSize} bytes (${(boxSize / 2 ** 20).toFixed(1)} MiB)`);
    console.log(phases.map(([name, s]) => `e2e-phase: ${name} ${s.toFixed(1)}`).join("\n"));
    if (problems.length > 0) throw new Error(`teardown left things behind: ${problems.join("; ")}`);
    // About 1.5 GB of boxes and disks: kept only when something failed, to look at.
    if (failed) console.log(`e2e: kept ${dir} (logs: registry.log, vagrant.log, libvirt/libvirtd.log, .homelab/builds/*/logs)`);
    else if (dir) rmSync(dir, { recursive: true, force: true });
  }, 5 * 60_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail") failed = true;
  });

  it("build --publish builds a real libvirt box and publishes it over HTTP with the write token", async () => {
    const result = await runTimed(
      ["build", "--compression-level", "1", "--no-version-check", "--publish", "--registry", registry.url, "--token", TOKEN],
      dir,
      /: built in \d+ s$/m,
    );
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(result.stdout).toMatch(/^ci\/debian-12-k8snode-kubeadm 0\.1\.0: built in \d+ s$/m);
    phases.push(["build", result.markSeconds!], ["publish", result.seconds - result.markSeconds!]);

    const builds = readdirSync(join(dir, ".homelab", "builds"));
    expect(builds).toHaveLength(1);
    buildDir = join(dir, ".homelab", "builds", builds[0]!);
    record = JSON.parse(readFileSync(join(buildDir, "build.json"), "utf8"));
    expect(record).toMatchObject({ hash: builds[0], boxName: BOX, boxVersion: "0.1.0", accelerator: "tcg" });
    expect(record.boxes).toHaveLength(1);
    const box = record.boxes[0]!;
    expect(box.provider).toBe("libvirt");
    const boxPath = join(buildDir, box.file);
    expect(await hashFile(boxPath)).toEqual({ sha256: box.sha256, size: box.size });
    boxSize = box.size;
    handOverBuild(buildDir, config);

    // Members are read by the names the archive itself lists (with or without a ./ prefix).
    const entries = execFileSync("tar", ["-tzf", boxPath], { encoding: "utf8" }).split("\n").filter(Boolean);
    const member = (name: string) => entries.find((e) => e.replace(/^\.\//, "") === name)!;
    expect(entries.map((e) => e.replace(/^\.\//, "")).sort()).toEqual(["Vagrantfile", "box.img", "metadata.json"]);
    const metadata = JSON.parse(execFileSync("tar", ["-xzOf", boxPath, member("metadata.json")], { encoding: "utf8" }));
    expect(metadata).toMatchObject({ provider: "libvirt", format: "qcow2" });

    // The in-VM verification ran and passed, check by check.
    const log = readFileSync(join(buildDir, record.log), "utf8");
    const checks = [...log.matchAll(/ui,message,\s*homelab\.qemu\.debian: (ok|FAIL) +(.+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(checks).toEqual(
      expect.arrayContaining([
        "ok module br_netfilter loaded",
        "ok sysctl net.ipv4.ip_forward",
        "ok no active swap",
        "ok root mount shared",
        "ok containerd service running",
        "ok containerd version",
        "ok runc version",
        "ok containerd config version",
        "ok containerd cgroup driver systemd",
        "ok containerd sandbox image",
      ]),
    );
    expect(checks.filter((c) => c.startsWith("FAIL"))).toEqual([]);
    // Nothing left behind but the build's own files.
    expect(readdirSync(buildDir).sort()).toEqual(["boxes", "build.json", "bundle", "logs"]);
    expect(qemuProcesses(buildDir)).toEqual([]);

    // Published: the upload went through the server with the token, and the catalog the server
    // answers names exactly the bytes that were built.
    expect(result.stderr).toMatch(new RegExp(`published ${BOX} 0\\.1\\.0 \\(libvirt, amd64\\) to ${escape(registry.url)}`));
    expect(readFileSync(registry.log, "utf8")).toMatch(new RegExp(`PUT /${escape(BOX)}/0\\.1\\.0\\S* 20[01]`));
    const list = await runCli(["box", "list", BOX, "--registry", registry.url, "--json"]);
    expect(list.code, list.stderr).toBe(0);
    const [catalog] = JSON.parse(list.stdout) as Array<{ name: string; versions: Array<{ version: string; providers: Array<Record<string, unknown>> }> }>;
    expect(catalog!.name).toBe(BOX);
    expect(catalog!.versions.map((v) => v.version)).toEqual(["0.1.0"]);
    expect(catalog!.versions[0]!.providers).toEqual([
      expect.objectContaining({ name: "libvirt", architecture: "amd64", checksum_type: "sha256", checksum: box.sha256, size: box.size }),
    ]);
  }, 30 * 60_000);

  it("the box ships no machine identity: sysprep emptied machine-id and removed the SSH host keys", async () => {
    const started = Date.now();
    const box = record.boxes[0]!;
    const img = join(dir, "box.img");
    const entries = execFileSync("tar", ["-tzf", join(buildDir, box.file)], { encoding: "utf8" }).split("\n");
    execFileSync("sh", ["-c", 'tar -xzOf "$1" "$2" > "$3"', "sh", join(buildDir, box.file), entries.find((e) => /(^|\/)box\.img$/.test(e))!, img]);
    const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", img], { encoding: "utf8" }));
    expect(info.format).toBe("qcow2");
    const disk = openGuestDisk(img);
    try {
      expect(disk.read("/etc/machine-id")).toBe("");
      expect(disk.list("/etc/ssh")!.filter((n) => n.startsWith("ssh_host_"))).toEqual([]);
      expect(disk.read("/etc/systemd/system/ssh-host-keys.service")).toMatch(/ExecStart=\/usr\/bin\/ssh-keygen -A/);
      expect(disk.read("/home/vagrant/.ssh/authorized_keys")).toMatch(/vagrant insecure public key/);
    } finally {
      disk.close();
      rmSync(img, { force: true });
    }
    phases.push(["inspect-box", (Date.now() - started) / 1000]);
  }, 5 * 60_000);

  it("vagrant box add by short name (VAGRANT_SERVER_URL) downloads the box from the registry", async () => {
    const add = await sh("vagrant", ["box", "add", "--provider", "libvirt", BOX], { env: vagrantEnv({ VAGRANT_SERVER_URL: registry.url }), log: vagrantLog(), timeoutMs: 10 * 60_000 });
    expect(add.code, add.output).toBe(0);
    phases.push(["box-add", add.seconds]);
    const list = await sh("vagrant", ["box", "list"], { env: vagrantEnv() });
    expect(list.output).toMatch(/^ci\/debian-12-k8snode-kubeadm\s+\(libvirt, 0\.1\.0\)$/m);
    // Vagrant really fetched the catalog and then the file from our server (it checked the sha256).
    const served = readFileSync(registry.log, "utf8");
    expect(served).toMatch(new RegExp(`(GET|HEAD) /${escape(BOX)} 200`));
    expect(served).toMatch(new RegExp(`GET /${escape(BOX)}/0\\.1\\.0/libvirt/amd64\\S* 200`));
  }, 15 * 60_000);

  it("Packer 1.6.6's vagrant-cloud post-processor publishes the built .box as 0.2.0, and vagrant box add --box-version 0.2.0 gets the same bytes", async () => {
    const box = record.boxes[0]!;
    const boxPath = join(buildDir, box.file);
    // Scratch directories of this step: Packer's home and a VAGRANT_HOME of its own (the e2e's
    // keeps only 0.1.0, which `vagrant up` boots next).
    const scratch = mkdtempSync(join(tmpdir(), "homelab-e2e-packer-"));
    try {
      const packerDir = join(scratch, "packer");
      mkdirSync(packerDir);
      const template = join(packerDir, "template.pkr.hcl");
      writeFileSync(template, vagrantCloudTemplate({ dir: packerDir, boxFile: boxPath, boxTag: BOX, version: PACKED_VERSION, description: PACKED_DESCRIPTION, registryUrl: registry.url }));
      const packer = await sh("packer", ["build", "-color=false", "-var", `registry_token=${PACKER_TOKEN}`, template], {
        cwd: packerDir,
        env: packerEnv(packerDir),
        log: join(dir, "packer-vagrant-cloud.log"),
        timeoutMs: 20 * 60_000,
      });
      const packerOutput = `packer build exited ${packer.code}:\n${packer.output.slice(-4000)}`;
      expect(packer.code, packerOutput).toBe(0);
      phases.push(["packer-vagrant-cloud", packer.seconds]);
      expect(packer.output, packerOutput).toContain("Confirming direct box upload completion");
      expect(packer.output, packerOutput).toContain("Version successfully released and available");

      // The server took it through the direct-upload flow of its API (upload URL, PUT, callback).
      const served = readFileSync(registry.log, "utf8");
      const api = `/api/v1/box/${escape(BOX)}/version/${escape(PACKED_VERSION)}`;
      expect(served).toMatch(new RegExp(`^\\S+ POST /api/v1/box/${escape(BOX)}/versions 20[01]\\b`, "m"));
      expect(served).toMatch(new RegExp(`^\\S+ GET ${api}/provider/libvirt/upload/direct 200\\b`, "m"));
      expect(served).toMatch(/^\S+ PUT \/api\/v1\/uploads\/REDACTED 20[01]\b/m);
      expect(served).toMatch(/^\S+ PUT \/api\/v1\/uploads\/REDACTED\/complete 200\b/m);
      expect(served).toMatch(new RegExp(`^\\S+ PUT ${api}/release 200\\b`, "m"));

      // Stored under the server's own checksum of what arrived: the built box, byte for byte.
      const versionDir = join(dir, "registry", BOX, PACKED_VERSION);
      expect(readdirSync(versionDir)).toEqual([`libvirt-amd64-${box.sha256}.box`]);
      expect(await hashFile(join(versionDir, `libvirt-amd64-${box.sha256}.box`))).toEqual({ sha256: box.sha256, size: box.size });

      // Released: the catalog Vagrant reads has both versions, 0.2.0 with its description and the
      // built box's checksum; the API says active.
      const catalog = (await (await fetch(`${registry.url}/${BOX}`)).json()) as { versions: Array<{ version: string; description?: string; providers: Array<Record<string, unknown>> }> };
      expect(catalog.versions.map((v) => v.version)).toEqual(["0.1.0", PACKED_VERSION]);
      const packed = catalog.versions.find((v) => v.version === PACKED_VERSION)!;
      expect(packed.description).toBe(PACKED_DESCRIPTION);
      expect(packed.providers).toEqual([expect.objectContaining({ name: "libvirt", architecture: "amd64", checksum_type: "sha256", checksum: box.sha256, size: box.size })]);
      const versionRes = await fetch(`${registry.url}/api/v1/box/${BOX}/version/${PACKED_VERSION}`, { headers: { Authorization: `Bearer ${PACKER_TOKEN}` } });
      expect(versionRes.status).toBe(200);
      expect(await versionRes.json()).toMatchObject({ version: PACKED_VERSION, status: "active", description: PACKED_DESCRIPTION });

      // Vagrant takes 0.2.0 by short name (it checks the catalog's sha256 as it downloads).
      const home = join(scratch, "vagrant-home");
      const addEnv = vagrantEnv({ VAGRANT_SERVER_URL: registry.url, VAGRANT_HOME: home });
      const add = await sh("vagrant", ["box", "add", "--provider", "libvirt", "--box-version", PACKED_VERSION, BOX], { env: addEnv, log: vagrantLog(), timeoutMs: 10 * 60_000 });
      expect(add.code, add.output).toBe(0);
      phases.push(["box-add-0.2.0", add.seconds]);
      expect(add.output).toContain("Calculating and comparing box checksum");
      expect((await sh("vagrant", ["box", "list"], { env: addEnv })).output).toMatch(/^ci\/debian-12-k8snode-kubeadm\s+\(libvirt, 0\.2\.0\)$/m);
      expect(readFileSync(registry.log, "utf8")).toMatch(new RegExp(`GET /${escape(BOX)}/${escape(PACKED_VERSION)}/libvirt/amd64\\S* 200`));
      // The disk Vagrant unpacked is the disk the build made.
      const added = findFile(join(home, "boxes", BOX.replace("/", "-VAGRANTSLASH-"), PACKED_VERSION), "box.img");
      expect(added, `no box.img under ${home}`).toBeDefined();
      const entries = execFileSync("tar", ["-tzf", boxPath], { encoding: "utf8" }).split("\n");
      const builtImg = execFileSync("sh", ["-c", 'tar -xzOf "$1" "$2" | sha256sum', "sh", boxPath, entries.find((e) => /(^|\/)box\.img$/.test(e))!], { encoding: "utf8" }).split(" ")[0];
      expect((await hashFile(added!)).sha256).toBe(builtImg);
      // The e2e's own Vagrant home still has only 0.1.0, the box `vagrant up` boots next.
      expect((await sh("vagrant", ["box", "list"], { env: vagrantEnv() })).output).not.toMatch(/0\.2\.0/);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 30 * 60_000);

  it("vagrant up boots a clone of the added box inside the test's own network namespace", async () => {
    lv = await LibvirtNetns.start({ name: NETNS, dir: join(dir, "libvirt") });
    mkdirSync(nodeDir());
    writeFileSync(join(nodeDir(), "Vagrantfile"), VAGRANTFILE);
    const up = await vagrant(["up", "--provider", "libvirt"], 20 * 60_000);
    expect(up.code, `${up.output.slice(-4000)}\n(libvirtd log: ${lv.libvirtdLog})`).toBe(0);
    phases.push(["up-to-ssh", up.seconds]);
    expect((await lv.newObjects()).domains).toEqual([DOMAIN]);
    expect((await lv.virsh(["domstate", DOMAIN])).output.trim()).toBe("running");
    // The clone's address lives in the namespace's management network, and only there.
    const ip = await cloneAddress();
    expect(ip.startsWith(`${MANAGEMENT_SUBNET}.`)).toBe(true);
    expect((await sh("ip", ["-4", "-o", "addr", "show"])).output).not.toContain(`${MANAGEMENT_SUBNET}.`);
  }, 25 * 60_000);

  it("the booted clone is a node with its own identity, and the build's node-verify passes on it again", async () => {
    const started = Date.now();
    const facts = await vagrant(["ssh", "-c", PROBE]);
    expect(facts.code, facts.output).toBe(0);
    const fact = (key: string) => [...facts.output.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((m) => m[1]!.trim());

    // New identity: the box had none (previous test); the clone made its own at first boot, and
    // its host keys are not those of the base image the build VM ran with.
    expect(fact("machine_id")[0]).toMatch(/^[0-9a-f]{32}$/);
    const cloneKeys = fact("hostkey");
    expect(cloneKeys.map((k) => k.split(" ")[0]).sort()).toEqual(["ecdsa-sha2-nistp256", "ssh-ed25519", "ssh-rsa"]);
    const base = openGuestDisk(baseImage);
    const baseKeys = base.list("/etc/ssh")!.filter((n) => /^ssh_host_.*\.pub$/.test(n)).map((n) => base.read(`/etc/ssh/${n}`)!.trim().split(" ").slice(0, 2).join(" "));
    base.close();
    expect(baseKeys).toHaveLength(3);
    for (const k of cloneKeys) expect(baseKeys).not.toContain(k.split(" ").slice(0, 2).join(" "));
    // The key the clone presents on the network is the one it generated.
    const scan = await lv!.run("ssh-keyscan", ["-t", "ed25519", await cloneAddress()], { timeoutMs: 60_000 });
    const presented = scan.output.match(/ssh-ed25519 \S+/)?.[0];
    expect(presented, scan.output).toBe(cloneKeys.find((k) => k.startsWith("ssh-ed25519"))!.split(" ").slice(0, 2).join(" "));

    // Kernel prep, swap and the runtime survived sysprep and a new boot.
    expect(fact("swaps")).toEqual(["0"]);
    expect(fact("module").sort()).toEqual(["br_netfilter", "overlay"]);
    expect(fact("sysctl").sort()).toEqual(["net.bridge.bridge-nf-call-iptables = 1", "net.ipv4.ip_forward = 1"]);
    expect(fact("containerd")).toEqual(["active"]);
    // The pinned release runs (not Debian's 1.6), with the version-3 config homelab wrote.
    expect(fact("containerd_version")[0]).toMatch(/^containerd github\.com\/containerd\/containerd\/v2 v?2\.1\.9\b/);
    expect(fact("containerd_config")).toEqual(["version = 3"]);

    // The build's own verification script, with the build's own values, passes on the clone.
    const env = await nodeVerifyEnv(join(buildDir, "bundle"));
    const upload = await vagrant(["upload", join(buildDir, "bundle", "scripts", "node-verify.sh"), "/tmp/node-verify.sh"]);
    expect(upload.code, upload.output).toBe(0);
    const verify = await vagrant(["ssh", "-c", `sudo env ${env} sh /tmp/node-verify.sh`]);
    expect(verify.output).not.toMatch(/^FAIL /m);
    expect(verify.output).toMatch(/^ok +containerd service running/m);
    expect(verify.output).toMatch(/^ok +no active swap/m);
    expect(verify.output).toMatch(/node-verify: all checks passed/);
    expect(verify.code).toBe(0);
    phases.push(["checks", (Date.now() - started) / 1000]);
  }, 10 * 60_000);

  it("vagrant destroy removes the clone: no domain, no disk, no qemu", async () => {
    const volumesBefore = await lv!.names(["vol-list", STORAGE_POOL]);
    expect(volumesBefore.some((v) => v.startsWith(DOMAIN))).toBe(true);
    const destroy = await vagrant(["destroy", "-f"]);
    expect(destroy.code, destroy.output).toBe(0);
    phases.push(["destroy", destroy.seconds]);
    expect((await lv!.newObjects()).domains).toEqual([]);
    // Only vagrant-libvirt's copy of the box stays in the pool (for the next `up`); the pool is
    // the test's own and goes in the teardown.
    const volumes = (await lv!.names(["vol-list", STORAGE_POOL])).map((l) => l.split(/\s+/)[0]!);
    expect(volumes.filter((v) => v.startsWith(DOMAIN))).toEqual([]);
    expect(volumes).toEqual([expect.stringMatching(/vagrant_box_image/)]);
    expect(qemuProcesses(DOMAIN)).toEqual([]);
    const status = await vagrant(["status"]);
    expect(status.output).toMatch(/not created/);
  }, 5 * 60_000);

  it("building the same inputs again is a cache hit: Packer does not run", async () => {
    const logsBefore = readdirSync(join(buildDir, "logs"));
    const logBefore = statSync(join(buildDir, record.log)).mtimeMs;
    const result = await runCli(["build", "--no-version-check"], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/: cache hit \(built .*; --force rebuilds\)$/m);
    expect(readdirSync(join(buildDir, "logs"))).toEqual(logsBefore);
    expect(statSync(join(buildDir, record.log)).mtimeMs).toBe(logBefore);
    expect(JSON.parse(readFileSync(join(buildDir, "build.json"), "utf8"))).toEqual(record);
  }, 60_000);

  it("a cancelled rebuild exits 130, stops qemu, and keeps the finished box untouched", async () => {
    const child = spawn(process.execPath, [BIN, "build", "--force", "--no-version-check"], {
      cwd: dir,
      env: { ...process.env, HOMELAB_NO_VERSION_CHECK: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let sawVm = false;
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the VM never started:\n${stderr.slice(-2000)}`)), 10 * 60_000);
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (!sawVm && /Waiting for SSH/.test(stderr) && qemuProcesses(buildDir).length > 0) {
          sawVm = true;
          clearTimeout(timer);
          setTimeout(() => {
            child.kill("SIGINT");
            resolve();
          }, 3000);
        }
      });
    });
    expect(await exited).toBe(130);
    expect(qemuProcesses(buildDir)).toEqual([]);
    expect(readdirSync(buildDir).filter((n) => n.startsWith(".attempt-") || n.startsWith(".boxes.partial-") || n === "vm")).toEqual([]);
    const box = record.boxes[0]!;
    expect(await hashFile(join(buildDir, box.file))).toEqual({ sha256: box.sha256, size: box.size });
    expect(JSON.parse(readFileSync(join(buildDir, "build.json"), "utf8"))).toEqual(record);
    // The cancelled attempt kept its own logs (Packer's and the plain one), and the successful
    // build's logs are intact.
    expect(readdirSync(join(buildDir, "logs"))).toHaveLength(4);
    expect(readFileSync(join(buildDir, record.log), "utf8")).toMatch(/Build 'homelab\.qemu\.debian' finished/);
  }, 15 * 60_000);

  /** The clone's management address, as Vagrant reaches it. */
  async function cloneAddress(): Promise<string> {
    const cfg = await vagrant(["ssh-config"]);
    const ip = cfg.output.match(/^\s*HostName\s+(\S+)/m)?.[1];
    if (!ip) throw new Error(`no HostName in vagrant ssh-config:\n${cfg.output}`);
    return ip;
  }
});

/** Facts about the clone, one `key=value` per line (a key may repeat). */
const PROBE = [
  "echo machine_id=$(cat /etc/machine-id)",
  'for f in /etc/ssh/ssh_host_*_key.pub; do echo "hostkey=$(cat "$f")"; done',
  "echo swaps=$(tail -n +2 /proc/swaps | wc -l)",
  "for m in overlay br_netfilter; do if [ -d /sys/module/$m ]; then echo module=$m; fi; done",
  'for k in net.bridge.bridge-nf-call-iptables net.ipv4.ip_forward; do echo "sysctl=$(sudo sysctl $k)"; done',
  "echo containerd=$(sudo systemctl is-active containerd)",
  'echo "containerd_version=$(containerd --version)"',
  'echo "containerd_config=$(sudo containerd config dump | grep -m1 -x "version = 3")"',
].join("; ");

/** node-verify's environment, with the values the build gave it (from the bundle's own pkrvars). */
async function nodeVerifyEnv(bundle: string): Promise<string> {
  const vars = (await parseHcl("homelab.auto.pkrvars.hcl", readFileSync(join(bundle, "homelab.auto.pkrvars.hcl"), "utf8"))) as Record<string, unknown>;
  const env = {
    K8S_DISTRIBUTION: vars.k8s_distribution, K8S_BAKE: vars.k8s_bake, K8S_VERSION: vars.k8s_version, PAUSE_IMAGE: vars.pause_image, ARCH: vars.arch,
    CONTAINERD_VERSION: vars.containerd_version, RUNC_VERSION: vars.runc_version, CNI: vars.cni,
    ...(vars.cni_manifest_sha256 === undefined ? {} : { CNI_MANIFEST_SHA256: vars.cni_manifest_sha256 }),
  };
  for (const [k, v] of Object.entries(env)) if (typeof v !== "string" || !/^[A-Za-z0-9.:/_+-]+$/.test(v)) throw new Error(`${k}: unexpected value ${JSON.stringify(v)}`);
  return Object.entries(env).map(([k, v]) => `${k}=${v as string}`).join(" ");
}

/** `homelab box serve` as a user starts it: its own process, a write token in its access config. */
async function serveRegistry(root: string, accessFile: string, log: string): Promise<{ url: string; child: ChildProcess; log: string }> {
  mkdirSync(root);
  writeFileSync(accessFile, JSON.stringify({ writeTokens: [TOKEN], tokens: [{ name: "ci-packer", token: PACKER_TOKEN, access: "write", orgs: ["ci"] }] }));
  writeFileSync(log, "");
  const child = spawn(process.execPath, [BIN, "box", "serve", "--root", root, "--port", "0", "--token-file", accessFile], { stdio: ["ignore", "pipe", "pipe"] });
  child.stderr!.on("data", (d: Buffer) => writeFileSync(log, d, { flag: "a" }));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`box serve did not start: ${out}`)), 30_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = out.match(/^serving .* on (http:\/\/127\.0\.0\.1:\d+) \(uploads need a token/m);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on("exit", (code) => reject(new Error(`box serve exited ${code}: ${out}`)));
  });
  return { url, child, log };
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

interface TimedResult {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
  /** Seconds from the start until `mark` first matched stdout. */
  markSeconds: number | undefined;
}

/** Runs the CLI and notes when a line of its stdout first appears (to split build from publish). */
function runTimed(args: readonly string[], cwd: string, mark: RegExp): Promise<TimedResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, HOMELAB_NO_VERSION_CHECK: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let markSeconds: number | undefined;
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (markSeconds === undefined && mark.test(stdout)) markSeconds = (Date.now() - started) / 1000;
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr, seconds: (Date.now() - started) / 1000, markSeconds }));
  });
}

/** The first file named `name` below `root` (depth first), if any. */
function findFile(root: string, name: string): string | undefined {
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const p = join(root, e.name);
    if (e.isFile() && e.name === name) return p;
    if (e.isDirectory()) {
      const found = findFile(p, name);
      if (found) return found;
    }
  }
  return undefined;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
