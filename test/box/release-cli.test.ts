import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRegistryServer, type RegistryServer } from "../../src/box/server.js";
import { expectIntact, plant } from "../support/planted.js";
import { http, makeBox, runCli, tempDir, WRITE_TOKEN } from "./support.js";

/**
 * `homelab box publish --no-release`, `release`, `revoke --reason` and `list`'s STATE column,
 * run as the built CLI against a registry directory and against `box serve` over HTTP.
 */
const tmp = tempDir("homelab-release-");
afterAll(tmp.cleanup);

const catalogVersions = async (url: string): Promise<string[]> => (JSON.parse((await http(url)).body.toString("utf8")) as { versions: { version: string }[] }).versions.map((v) => v.version);

describe("release states from the CLI", () => {
  let server: RegistryServer;
  const served = join(tmp.path, "served");
  beforeAll(async () => {
    mkdirSync(served);
    server = await startRegistryServer({ root: served, port: 0, writeTokens: [WRITE_TOKEN], readTokens: [] });
  });
  afterAll(() => server.close({ graceMs: 100 }));

  for (const where of ["directory", "http"] as const) {
    it(`${where}: publish --no-release, list, release, revoke --reason, and a user's files survive`, async () => {
      const dir = join(tmp.path, where);
      mkdirSync(dir);
      const registry = where === "directory" ? join(dir, "registry") : server.url;
      const env = { HOMELAB_REGISTRY_TOKEN: WRITE_TOKEN };
      const box = makeBox(dir, "b");
      const name = `acme/${where}`;
      const pub = await runCli(["box", "publish", box, "--name", name, "--box-version", "1.0.0", "--no-release", "--registry", registry], { env });
      expect(pub.code, pub.stderr).toBe(0);
      expect(pub.stdout).toMatch(/published acme\/\w+@1\.0\.0 libvirt\/amd64 .*; version unreleased/);
      const root = where === "directory" ? registry : served;
      const mine = { [`acme/${where}/NOTES.md`]: "my notes\n", [`acme/${where}/1.0.0/checksums.txt`]: "mine\n" };
      plant(root, mine);

      let list = await runCli(["box", "list", name, "--registry", registry], { env });
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toMatch(new RegExp(`${name}\\s+1\\.0\\.0\\s+unreleased\\s+libvirt\\s+amd64\\*`));
      expect(list.stdout).toContain("only active versions are in the catalog Vagrant reads");
      if (where === "http") expect(await catalogVersions(`${server.url}/${name}`)).toEqual([]);

      const rel = await runCli(["box", "release", `${name}@1.0.0`, "--registry", registry], { env });
      expect(rel.code, rel.stderr).toBe(0);
      expect(rel.stdout).toBe(`${name}@1.0.0: active (released)\n`);
      if (where === "http") expect(await catalogVersions(`${server.url}/${name}`)).toEqual(["1.0.0"]);
      const twice = await runCli(["box", "release", `${name}@1.0.0`, "--registry", registry], { env });
      expect(twice.code).not.toBe(0);
      expect(twice.stderr).toMatch(/already been released/);

      const rev = await runCli(["box", "revoke", `${name}@1.0.0`, "--reason", "kernel panics on boot", "--registry", registry], { env });
      expect(rev.code, rev.stderr).toBe(0);
      list = await runCli(["box", "list", name, "--registry", registry], { env });
      expect(list.stdout).toMatch(new RegExp(`${name}\\s+1\\.0\\.0\\s+revoked`));
      expect(list.stdout).toContain(`${name}@1.0.0 revoked: kernel panics on boot`);
      if (where === "http") {
        const dl = await http(`${server.url}/${name}/1.0.0/libvirt/amd64`);
        expect(dl.status).toBe(410);
      }
      // Without a token, HTTP refuses; a version that does not exist is not found.
      if (where === "http") expect((await runCli(["box", "release", `${name}@1.0.0`, "--registry", registry])).code).toBe(2);
      const missing = await runCli(["box", "release", `${name}@9.9.9`, "--registry", registry], { env });
      expect(missing.code).toBe(1);
      // A publish without --no-release is active at once, as before release states.
      const again = await runCli(["box", "publish", box, "--name", name, "--box-version", "1.1.0", "--registry", registry], { env });
      expect(again.stdout).toMatch(/; version active \(released\)/);
      expectIntact(root, mine);
    });
  }
});
