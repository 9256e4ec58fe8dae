import { appendFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishBox } from "../../src/box/publish.js";
import { startRegistryServer, type RegistryServer } from "../../src/box/server.js";
import { needTool } from "../support/tools.js";
import { VagrantClient } from "../support/vagrant-client.js";
import { makeBox, tempDir, WRITE_TOKEN } from "./support.js";

/**
 * The real client: Debian's vagrant 2.3.4 (with vagrant-libvirt) against `homelab box serve` on
 * 127.0.0.1. Each `vagrant box add` takes about 6 s, so there are three of them.
 */
describe.skipIf(!needTool("vagrant") || !needTool("qemu-img"))("vagrant box add against the registry", () => {
  const tmp = tempDir("homelab-vagrant-");
  const root = join(tmp.path, "root");
  let client: VagrantClient;
  let server: RegistryServer;

  beforeAll(async () => {
    const publish = async (version: string, architecture: string, marker: string): Promise<void> => {
      const file = makeBox(tmp.path, marker, { qcow2: true, marker });
      await publishBox({ file, name: "acme/node", version, architecture, registry: root });
    };
    await publish("1.1.0", "amd64", "1.1.0-amd64");
    await publish("1.2.0", "amd64", "1.2.0-amd64");
    // amd64 first (the default), then arm64: Vagrant 2.3 must still get the default one.
    await publish("1.2.5", "amd64", "1.2.5-amd64");
    await publish("1.2.5", "arm64", "1.2.5-arm64");
    await publish("1.3.0", "amd64", "1.3.0-amd64");
    server = await startRegistryServer({ root, port: 0, writeTokens: [WRITE_TOKEN], readTokens: [] });
    client = new VagrantClient({ home: join(tmp.path, "vagrant-home") });
  });
  afterAll(async () => {
    await server?.close({ graceMs: 1000 });
    tmp.cleanup();
  });

  const vagrant = (args: string[], env: NodeJS.ProcessEnv = {}) => client.run(args, env);

  it("adds by catalog URL with a version constraint, picking the newest match and the default architecture", async () => {
    const add = await client.addBox(`${server.url}/acme/node`, { version: "~> 1.2.0" });
    expect(add.code, add.output).toBe(0);
    expect(add.marker, add.output).toBe("1.2.5-amd64");
    expect(add.metadata, add.output).toMatchObject({ provider: "libvirt" });
    const list = await vagrant(["box", "list"]);
    expect(list.output).toMatch(/^acme\/node\s+\(libvirt, 1\.2\.5\)$/m);
    expect(list.output).not.toMatch(/1\.3\.0/);
    expect(client.marker("acme/node", "1.2.5")).toBe("1.2.5-amd64");
  });

  it("adds the newest version by shorthand name through VAGRANT_SERVER_URL", async () => {
    const add = await client.addBox("acme/node", { env: { VAGRANT_SERVER_URL: server.url } });
    expect(add.code, add.output).toBe(0);
    expect(add.marker, add.output).toBe("1.3.0-amd64");
  });

  it("refuses a tampered box file through its checksum and adds nothing", async () => {
    const [name] = readdirSync(join(root, "acme/node/1.1.0"));
    const file = join(root, "acme/node/1.1.0", name!);
    appendFileSync(file, Buffer.alloc(1024)); // still a valid tar (zero blocks), but not the bytes published
    expect(statSync(file).size).toBeGreaterThan(1024);
    const add = await client.addBox(`${server.url}/acme/node`, { version: "1.1.0" });
    expect(add.code).not.toBe(0);
    expect(add.output).toMatch(/checksum/i);
    const list = await vagrant(["box", "list"]);
    expect(list.output).not.toMatch(/1\.1\.0/);
    expect(list.output).toMatch(/\(libvirt, 1\.3\.0\)/);
  });
});
