import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRegistryServer, type RegistryServer } from "../../src/box/server.js";
import { packerEnv, vagrantCloudTemplate } from "../support/packer-vagrant-cloud.js";
import { needTool } from "../support/tools.js";
import { runClient as run, VagrantClient } from "../support/vagrant-client.js";
import { http, makeBox, tempDir } from "./support.js";

/**
 * The real publishing clients against `homelab box serve` on 127.0.0.1: Debian's Vagrant 2.3.4
 * (`vagrant cloud`, through the vagrant_cloud gem 3.0.5) and Packer 1.6.6's built-in
 * `vagrant-cloud` post-processor fed by `artifice` (a `file` builder stands in for a VM build:
 * the post-processor only sees the .box). Every `vagrant` run takes several seconds, so the
 * steps share one server and build on each other, in order.
 */
const ACME = "acme-ci-token-0123456789abcdef";
const OTHER = "other-ci-token-0123456789abcd";
/** Each `vagrant` run takes seconds (more on a loaded machine); the Packer step runs five clients. */
const SLOW = 180_000;

describe.skipIf(!needTool("vagrant") || !needTool("packer") || !needTool("qemu-img"))("vagrant cloud and Packer's vagrant-cloud post-processor publish into box serve", () => {
  const tmp = tempDir("homelab-vcloud-");
  const root = join(tmp.path, "root");
  const home = join(tmp.path, "vagrant-home");
  const lines: string[] = [];
  let server: RegistryServer;

  beforeAll(async () => {
    mkdirSync(root);
    server = await startRegistryServer({
      root,
      port: 0,
      writeTokens: [],
      readTokens: [],
      tokens: [
        { name: "acme-ci", token: ACME, access: "write", orgs: ["acme"] },
        { name: "other-ci", token: OTHER, access: "write", orgs: ["other"] },
      ],
      log: (l) => lines.push(l),
    });
  });
  afterAll(async () => {
    await server?.close({ graceMs: 1000 });
    tmp.cleanup();
  });

  const vagrant = (args: string[], env: NodeJS.ProcessEnv = {}) => new VagrantClient({ home, serverUrl: server.url }).run(args, env);
  const addBox = (name: string) => new VagrantClient({ home, serverUrl: server.url }).addBox(name);
  const catalogVersions = async (box: string): Promise<string[]> =>
    (JSON.parse((await http(`${server.url}/${box}`)).body.toString("utf8")) as { versions: { version: string }[] }).versions.map((v) => v.version);
  const box = (marker: string) => makeBox(tmp.path, marker, { qcow2: true, marker });

  it("vagrant cloud auth login --token: a token of this server is accepted, another one is not", async () => {
    const bad = await vagrant(["cloud", "auth", "login", "--token", "not-a-token-of-this-server"]);
    // Vagrant 2.3.4 does not catch the gem's error for a 401 here (it expects Excon's own):
    // it fails with a Ruby backtrace, but the message is ours.
    expect(bad.code, bad.output).not.toBe(0);
    expect(bad.output).toContain("Vagrant Cloud request failed - the token is not valid");
    const ok = await vagrant(["cloud", "auth", "login", "--token", ACME]);
    expect(ok.code, ok.output).toBe(0);
    expect(ok.output).toMatch(/already logged in/i);
    expect(readFileSync(join(home, "data", "vagrant_login_token"), "utf8")).toBe(ACME);
  }, SLOW);

  it("vagrant cloud publish --release: the box, its version and description, and the upload, released", async () => {
    const r = await vagrant(["cloud", "publish", "acme/alpine", "1.0.0", "libvirt", box("1.0.0"), "--force", "--release", "-s", "Alpine for k8s nodes", "--version-description", "first cut"]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain("Complete! Published acme/alpine");
    expect(await catalogVersions("acme/alpine")).toEqual(["1.0.0"]);
    // The direct-upload flow ran: upload URL, PUT of the box, then the callback.
    expect(lines.some((l) => /^GET \/api\/v1\/box\/acme\/alpine\/version\/1\.0\.0\/provider\/libvirt\/upload\/direct 200$/.test(l))).toBe(true);
    expect(lines.some((l) => /^PUT \/api\/v1\/uploads\/REDACTED\/complete 200$/.test(l))).toBe(true);
  }, SLOW);

  it("vagrant cloud publish without --release leaves the version out of Vagrant's catalog until vagrant cloud version release", async () => {
    const r = await vagrant(["cloud", "publish", "acme/alpine", "1.1.0", "libvirt", box("1.1.0"), "--force"]);
    expect(r.code, r.output).toBe(0);
    expect(await catalogVersions("acme/alpine")).toEqual(["1.0.0"]);
    const rel = await vagrant(["cloud", "version", "release", "acme/alpine", "1.1.0", "--force"]);
    expect(rel.code, rel.output).toBe(0);
    expect(rel.output).toContain("Released version 1.1.0 on acme/alpine");
    expect(await catalogVersions("acme/alpine")).toEqual(["1.0.0", "1.1.0"]);
  }, SLOW);

  it("vagrant cloud box show lists the versions, newest first, and the current one; vagrant cloud search finds the box", async () => {
    const r = await vagrant(["cloud", "box", "show", "acme/alpine"]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/Box:\s+acme\/alpine/);
    expect(r.output).toMatch(/Current Version:\s+1\.1\.0/);
    expect(r.output).toMatch(/Versions:\s+1\.1\.0, 1\.0\.0/);
    const found = await vagrant(["cloud", "search", "alpine", "--json"]);
    expect(found.code, found.output).toBe(0);
    expect(JSON.parse(found.output.trim().split("\n").at(-1)!)).toMatchObject([{ name: "acme/alpine", version: "1.1.0", providers: "libvirt" }]);
  }, SLOW);

  it("vagrant box add org/box resolves the short name through VAGRANT_SERVER_URL and gets the newest released version", async () => {
    const r = await addBox("acme/alpine");
    expect(r.code, r.output).toBe(0);
    expect(r.dir, r.output).toBe(join(home, "boxes", "acme-VAGRANTSLASH-alpine", "1.1.0", "libvirt"));
    expect(r.marker, r.output).toBe("1.1.0");
  }, SLOW);

  it("vagrant cloud version revoke takes the version out of the catalog and its download says it was revoked", async () => {
    const r = await vagrant(["cloud", "version", "revoke", "acme/alpine", "1.1.0", "--force"]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/Status:\s+revoked/);
    expect(await catalogVersions("acme/alpine")).toEqual(["1.0.0"]);
    const dl = await http(`${server.url}/acme/alpine/1.1.0/libvirt/amd64`);
    expect(dl.status).toBe(410);
    expect(JSON.parse(dl.body.toString("utf8")).errors[0]).toMatch(/version 1\.1\.0 was revoked/);
  }, SLOW);

  it("a token of one organisation cannot publish into another (vagrant cloud publish fails, nothing is written)", async () => {
    const r = await vagrant(["cloud", "publish", "acme/alpine", "9.0.0", "libvirt", box("9.0.0"), "--force", "--release"], { VAGRANT_CLOUD_TOKEN: OTHER });
    expect(r.code, r.output).toBe(1);
    expect(r.output).toMatch(/Failed to create box acme\/alpine/);
    expect(lines.some((l) => /^POST \/api\/v1\/box\/acme\/alpine\/versions 403 /.test(l))).toBe(true);
    expect(readdirSync(join(root, "acme", "alpine"))).not.toContain("9.0.0");
  }, SLOW);

  it("Packer 1.6.6's vagrant-cloud post-processor publishes (direct upload, released; then indirect, unreleased) and vagrant box add takes it", async () => {
    // The token from the environment (as CI would): this step does not depend on the login above.
    const create = await vagrant(["cloud", "box", "create", "acme/packed", "-s", "built by packer"], { VAGRANT_CLOUD_TOKEN: ACME });
    expect(create.code, create.output).toBe(0);
    const workdir = (version: string): string => {
      const dir = join(tmp.path, `packer-${version}`);
      mkdirSync(dir);
      return dir;
    };
    /** An HCL2 template with the post-processor block as the README shows it. */
    const packerHcl = async (version: string) => {
      const dir = workdir(version);
      const template = join(dir, "template.pkr.hcl");
      writeFileSync(template, vagrantCloudTemplate({ dir, boxFile: box(`packed-${version}`), boxTag: "acme/packed", version, description: `packer ${version}`, registryUrl: server.url }));
      return run("packer", ["build", "-color=false", "-var", `registry_token=${ACME}`, template], packerEnv(dir));
    };
    /** A JSON template (Packer 1.6.6's other format). */
    const packer = async (version: string, extra: Record<string, unknown>) => {
      const dir = workdir(version);
      const template = join(dir, "template.json");
      writeFileSync(
        template,
        JSON.stringify({
          builders: [{ type: "file", content: "stands in for a VM build", target: join(dir, "placeholder.txt") }],
          "post-processors": [
            [
              { type: "artifice", files: [box(`packed-${version}`)] },
              { type: "vagrant-cloud", box_tag: "acme/packed", version, version_description: `packer ${version}`, access_token: ACME, vagrant_cloud_url: `${server.url}/api/v1`, ...extra },
            ],
          ],
        }),
      );
      return run("packer", ["build", "-color=false", template], packerEnv(dir));
    };
    const direct = await packerHcl("2.0.0");
    expect(direct.code, direct.output).toBe(0);
    expect(direct.output).toContain("Confirming direct box upload completion");
    expect(direct.output).toContain("Version successfully released and available");
    const indirect = await packer("2.1.0", { no_direct_upload: true, no_release: true });
    expect(indirect.code, indirect.output).toBe(0);
    expect(indirect.output).toContain("Not releasing version due to configuration");
    expect(await catalogVersions("acme/packed")).toEqual(["2.0.0"]);
    const add = await addBox("acme/packed");
    expect(add.code, add.output).toBe(0);
    expect(add.marker, add.output).toBe("packed-2.0.0");
    const show = await vagrant(["cloud", "box", "show", "acme/packed", "--versions", "2.1.0"], { VAGRANT_CLOUD_TOKEN: ACME });
    expect(show.output).toMatch(/Status:\s+unreleased/);
    expect(show.output).toMatch(/Description:\s+packer 2\.1\.0/);
  }, SLOW);
});
