import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectBox } from "../../src/box/inspect.js";
import { startRegistryServer, type RegistryServer } from "../../src/box/server.js";
import { needTool } from "../support/tools.js";
import { runCli, tempDir, WRITE_TOKEN } from "./support.js";
import { gnuTarListing, readWithOurs } from "./tar-listing.js";

/**
 * Boxes written by the real Packer 1.6.6 vagrant post-processor, in seconds. Its tar writer
 * (post-processor/vagrant/util.go DirToBox, v1.6.6) sets Go's archive/tar FormatGNU: headers
 * with magic "ustar  \0" whose bytes 345–368 hold access and change times, which homelab's old
 * reader took for a path prefix (`15303415233/metadata.json`).
 *
 * - libvirt: Packer's qemu builder boots a real guest under TCG, a disk whose boot sector powers
 *   the machine off through ACPI at once (no OS: the build takes about a second), then the
 *   vagrant post-processor packs the disk as Packer does for a real build.
 * - virtualbox: a `null` builder and the `artifice` post-processor hand it a disk and an OVF,
 *   with a member name over 100 bytes (Go writes a GNU long-name header), gzip'ed and plain.
 *   (artifice cannot feed the libvirt provider: it reads the qemu builder's state and panics
 *   with "interface conversion: interface {} is nil, not string", libvirt.go:67 in v1.6.6.)
 */

// mov dx,0x604; mov ax,0x2000; out dx,ax (ACPI S5 on QEMU's i440fx/PIIX4 machine, the PM base
// SeaBIOS sets) ; hlt; jmp back to hlt — then the 0x55AA boot signature.
const POWEROFF_BOOT_SECTOR = [0xba, 0x04, 0x06, 0xb8, 0x00, 0x20, 0xef, 0xf4, 0xeb, 0xfd];

// Not an upstream file: the least Packer's VirtualBox provider needs (post-processor/vagrant/
// virtualbox.go, v1.6.6): exactly one *.ovf, with `<Adapter slot="0" … MACAddress="…">` for the
// Vagrantfile it writes.
const OVF = `<?xml version="1.0"?>
<Envelope><VirtualSystem><Machine><Hardware><Network>
<Adapter slot="0" enabled="true" MACAddress="080027ABCDEF" type="82540EM"/>
</Network></Hardware></Machine></VirtualSystem></Envelope>
`;
const LONG_NAME = `${"n".repeat(120)}.txt`;

describe.skipIf(!needTool("packer") || !needTool("qemu-img"))("a box written by Packer 1.6.6's vagrant post-processor", () => {
  const tmp = tempDir("homelab-packer-box-");
  const libvirt = join(tmp.path, "out", "libvirt.box");
  const gz = join(tmp.path, "out", "packer.box");
  const plain = join(tmp.path, "out", "packer-plain.box");
  const packer = (template: object): void => {
    writeFileSync(join(tmp.path, "box.json"), JSON.stringify(template, null, 2));
    const build = spawnSync("packer", ["build", "-machine-readable", "box.json"], {
      cwd: tmp.path,
      env: { ...process.env, CHECKPOINT_DISABLE: "1", PACKER_NO_COLOR: "1", PACKER_CACHE_DIR: join(tmp.path, "packer_cache"), PACKER_CONFIG_DIR: tmp.path },
      encoding: "utf8",
    });
    if (build.status !== 0) throw new Error(`packer build failed (${build.status}):\n${build.stdout}${build.stderr}`);
  };

  beforeAll(() => {
    const dir = tmp.path;
    const disk = Buffer.alloc(1 << 20);
    Buffer.from(POWEROFF_BOOT_SECTOR).copy(disk);
    disk.writeUInt16LE(0xaa55, 510);
    writeFileSync(join(dir, "poweroff.raw"), disk);
    execFileSync("qemu-img", ["convert", "-q", "-f", "raw", "-O", "qcow2", join(dir, "poweroff.raw"), join(dir, "base.qcow2")]);
    packer({
      builders: [
        {
          type: "qemu",
          iso_url: `file://${join(dir, "base.qcow2")}`,
          iso_checksum: "none",
          disk_image: true,
          format: "qcow2",
          disk_size: "64M",
          accelerator: "tcg",
          headless: true,
          // Nothing to type: the guest is gone before a VNC client could connect.
          disable_vnc: true,
          communicator: "none",
          shutdown_timeout: "60s",
          output_directory: "output-vm",
          vm_name: "disk.qcow2",
        },
      ],
      "post-processors": [{ type: "vagrant", output: libvirt }],
    });

    execFileSync("qemu-img", ["create", "-q", "-f", "vmdk", join(dir, "disk.vmdk"), "64M"]);
    writeFileSync(join(dir, "vm.ovf"), OVF);
    mkdirSync(join(dir, "extra"));
    writeFileSync(join(dir, "extra", LONG_NAME), "a member name longer than 100 bytes: a GNU long-name header\n");
    const chain = (output: string, level?: number) => [
      { type: "artifice", files: ["disk.vmdk", "vm.ovf"] },
      // keep_input_artifact: else the first chain deletes the artifice files the second needs.
      { type: "vagrant", provider_override: "virtualbox", keep_input_artifact: true, output, include: [`extra/${LONG_NAME}`], ...(level === undefined ? {} : { compression_level: level }) },
    ];
    packer({ builders: [{ type: "null", communicator: "none" }], "post-processors": [chain(gz), chain(plain, 0)] });
  }, 180_000);
  afterAll(tmp.cleanup);

  it("really has GNU headers with access and change times where ustar has its prefix", () => {
    const first = gunzipSync(readFileSync(libvirt)).subarray(0, 512);
    expect(first.subarray(257, 265).toString("latin1")).toBe("ustar  \0");
    expect(first.subarray(345, 356).toString("latin1")).toMatch(/^[0-7]{11}$/); // atime, octal seconds
    expect(readFileSync(plain).subarray(257, 265).toString("latin1")).toBe("ustar  \0");
  });

  it.each([
    ["libvirt", libvirt, ["Vagrantfile", "box.img", "metadata.json"]],
    ["virtualbox, gzip'ed", gz, ["Vagrantfile", "box.ovf", "disk.vmdk", LONG_NAME, "metadata.json"]],
    ["virtualbox, plain", plain, ["Vagrantfile", "box.ovf", "disk.vmdk", LONG_NAME, "metadata.json"]],
  ])("is read (%s) like GNU tar reads it, with metadata.json and Vagrantfile captured", async (_what, box, members) => {
    const ours = await readWithOurs(box);
    expect(ours.entries.map(({ path, kind, size, link }) => ({ path, kind, size, link }))).toEqual(gnuTarListing(box));
    expect(ours.entries.map((e) => e.path).sort()).toEqual([...members].sort());
    for (const member of ["metadata.json", "Vagrantfile"]) {
      const real = execFileSync("tar", ["-xOf", box, member]);
      expect(ours.contents.get(member), member).toBe(createHash("sha256").update(real).digest("hex"));
    }
    const info = await inspectBox(box);
    expect(info.metadata.provider).toBe(box === libvirt ? "libvirt" : "virtualbox");
    if (box === libvirt) expect(info.metadata.raw).toMatchObject({ format: "qcow2", virtual_size: 1 });
  });

  describe("publish and the real vagrant client", () => {
    const registry = join(tmp.path, "registry");
    const home = join(tmp.path, "vagrant-home");
    let server: RegistryServer;
    beforeAll(async () => {
      mkdirSync(registry);
      server = await startRegistryServer({ root: registry, port: 0, writeTokens: [WRITE_TOKEN], readTokens: [] });
    });
    afterAll(async () => {
      await server?.close({ graceMs: 1000 });
    });

    it("`homelab box publish` takes them, into a directory and over HTTP", async () => {
      const pub = await runCli(["box", "publish", libvirt, "--name", "packer/made", "--version", "1.0.0", "--registry", registry]);
      expect(pub.code, pub.stderr).toBe(0);
      expect(pub.stdout).toContain(`published packer/made@1.0.0 libvirt/amd64`);
      expect(pub.stdout).toContain(createHash("sha256").update(readFileSync(libvirt)).digest("hex"));
      const dir = await runCli(["box", "publish", gz, "--name", "packer/made", "--version", "1.0.0", "--registry", registry]);
      expect(dir.code, dir.stderr).toBe(0);
      expect(dir.stdout).toContain(`published packer/made@1.0.0 virtualbox/amd64`);

      const http = await runCli(["box", "publish", plain, "--name", "packer/made", "--version", "1.1.0", "--registry", server.url, "--token", WRITE_TOKEN]);
      expect(http.code, http.stderr).toBe(0);
      const list = await runCli(["box", "list", "packer/made", "--registry", registry, "--json"]);
      const catalog = JSON.parse(list.stdout) as { versions: { version: string; providers: { name: string; checksum: string }[] }[] }[];
      expect(catalog[0]!.versions.map((v) => [v.version, v.providers.map((p) => p.name).sort()])).toEqual(
        expect.arrayContaining([
          ["1.0.0", ["libvirt", "virtualbox"]],
          ["1.1.0", ["virtualbox"]],
        ]),
      );
    });

    it.skipIf(!needTool("vagrant"))("`vagrant box add` by short name adds the libvirt box, its disk a qcow2 qemu-img reads", async () => {
      const add = await run("vagrant", ["box", "add", "--provider", "libvirt", "packer/made"], {
        ...process.env,
        VAGRANT_HOME: home,
        VAGRANT_CHECKPOINT_DISABLE: "1",
        VAGRANT_SERVER_URL: server.url,
      });
      expect(add.code, add.output).toBe(0);
      const boxDir = findDir(join(home, "boxes"), "libvirt");
      expect(readdirSync(boxDir!).sort()).toEqual(["Vagrantfile", "box.img", "metadata.json"]);
      const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", join(boxDir!, "box.img")]).toString()) as { format: string; "virtual-size": number };
      expect(info).toMatchObject({ format: "qcow2", "virtual-size": 64 << 20 });
    }, 120_000);

    it.skipIf(!needTool("vagrant"))("`vagrant box add` extracts what was published, the long-named member included", async () => {
      const add = await run("vagrant", ["box", "add", "--provider", "virtualbox", "--box-version", "1.0.0", `${server.url}/packer/made`], {
        ...process.env,
        VAGRANT_HOME: home,
        VAGRANT_CHECKPOINT_DISABLE: "1",
      });
      expect(add.code, add.output).toBe(0);
      const boxDir = findDir(join(home, "boxes"), "virtualbox");
      expect(boxDir).toBeDefined();
      expect(readdirSync(boxDir!).sort()).toEqual(["Vagrantfile", "box.ovf", "disk.vmdk", LONG_NAME, "metadata.json"].sort());
    }, 120_000);
  });
});

function findDir(dir: string, name: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const p = join(dir, e.name);
    if (e.name === name) return p;
    const found = findDir(p, name);
    if (found) return found;
  }
  return undefined;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}
