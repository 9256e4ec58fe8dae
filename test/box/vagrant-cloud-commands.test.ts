import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRegistryServer, type RegistryServer } from "../../src/box/server.js";
import { needTool } from "../support/tools.js";
import { VagrantClient, type ClientRun } from "../support/vagrant-client.js";
import { http, makeBox, tempDir } from "./support.js";

/**
 * Every `vagrant cloud` subcommand of Debian's Vagrant 2.3.4 (and the flags that change what it
 * sends) against `homelab box serve` on 127.0.0.1, plus the box commands that read a registry
 * after a publish (`box outdated`, `box update`, `box add` with a constraint, `box prune`).
 * What we refuse on purpose (per-box privacy, providers hosted at a URL, versions that are not
 * X.Y.Z) must reach the user as our sentence, with no Ruby backtrace, and leave a log line.
 * The steps share one server and build on each other, in order.
 */
const ACME = "acme-sweep-token-0123456789abcdef";
const SLOW = 180_000;

describe.skipIf(!needTool("vagrant") || !needTool("qemu-img") || !needTool("script"))("every vagrant cloud subcommand against box serve", () => {
  const tmp = tempDir("homelab-vcloud-cmds-");
  const root = join(tmp.path, "root");
  const lines: string[] = [];
  let server: RegistryServer;
  let client: VagrantClient;

  beforeAll(async () => {
    mkdirSync(root);
    server = await startRegistryServer({
      root,
      port: 0,
      writeTokens: [],
      readTokens: [],
      tokens: [{ name: "acme-sweep", token: ACME, access: "write", orgs: ["acme"] }],
      log: (l) => lines.push(l),
    });
    client = new VagrantClient({ home: join(tmp.path, "vagrant-home"), serverUrl: server.url, token: ACME });
  });
  afterAll(async () => {
    await server?.close({ graceMs: 1000 });
    tmp.cleanup();
  });

  const vagrant = (...args: string[]) => client.run(args);
  const box = (marker: string, provider = "libvirt") => makeBox(tmp.path, `${provider}-${marker}`, { qcow2: true, marker, provider });
  const digest = (type: string, file: string) => createHash(type).update(readFileSync(file)).digest("hex");
  /** A failure the user can act on: exit 1, our sentence, no Ruby backtrace. */
  const refused = (r: ClientRun, sentence: RegExp) => {
    expect(r.code, r.output).toBe(1);
    expect(r.output).toMatch(sentence);
    expect(r.output, r.output).not.toMatch(/^\s+from \/usr\//m);
  };
  const logged = (pattern: RegExp) => expect(lines.some((l) => pattern.test(l)), lines.slice(-10).join("\n")).toBe(true);
  const catalog = async (name: string) => JSON.parse((await http(`${server.url}/${name}`)).body.toString("utf8")) as { description?: string; versions: { version: string; providers: { name: string }[] }[] };

  it("auth: whoami names the token's holder, login --check says logged in, logout forgets nothing on the server", async () => {
    const who = await vagrant("cloud", "auth", "whoami");
    expect(who.code, who.output).toBe(0);
    expect(who.output).toContain("Currently logged in as acme-sweep");
    const check = await vagrant("cloud", "auth", "login", "--check");
    expect(check.code, check.output).toBe(0);
    expect(check.output).toMatch(/already logged in/i);
    const out = await vagrant("cloud", "auth", "logout");
    expect(out.code, out.output).toBe(0);
    expect(out.output).toContain("You are logged out");
    const bad = await client.run(["cloud", "auth", "whoami", "not-a-token-of-this-server"], { VAGRANT_CLOUD_TOKEN: undefined });
    refused(bad, /the token is not valid/);
  }, SLOW);

  it("auth login with a username and password: our reason reaches the user (Vagrant 2.3.4 adds its own backtrace) and the server logs it", async () => {
    const login = await client.runOnTerminal(["cloud", "auth", "login", "-u", "bob", "-d", "laptop"], "a-password\n", { VAGRANT_CLOUD_TOKEN: undefined });
    expect(login.code, login.output).not.toBe(0);
    expect(login.output).toContain("this registry does not log in with a password: ask its administrator for a token and run `vagrant cloud auth login --token TOKEN`");
    logged(/^POST \/api\/v1\/authenticate 400 this registry does not log in with a password/);
    expect(lines.join("\n")).not.toContain("a-password");
  }, SLOW);

  it("box create/update/show with descriptions; --private is refused with our reason (privacy is per organisation)", async () => {
    const create = await vagrant("cloud", "box", "create", "acme/one", "-d", "long description", "-s", "short one", "--no-private");
    expect(create.code, create.output).toBe(0);
    expect(create.output).toMatch(/Description:\s+long description/);
    expect(create.output).toMatch(/Private:\s+no/);
    const update = await vagrant("cloud", "box", "update", "acme/one", "-d", "new long", "-s", "new short");
    expect(update.code, update.output).toBe(0);
    const show = await vagrant("cloud", "box", "show", "acme/one");
    expect(show.output).toMatch(/Description:\s+new long/);
    expect((await catalog("acme/one")).description).toBe("new long");
    refused(await vagrant("cloud", "box", "create", "acme/two", "--private"), /boxes here are public as their organisation is/);
    refused(await vagrant("cloud", "box", "update", "acme/one", "--private"), /boxes here are public as their organisation is/);
    logged(/^PUT \/api\/v1\/box\/acme\/one 400 boxes here are public/);
    refused(await vagrant("cloud", "box", "show", "acme/nope"), /Failed to locate requested box: acme\/nope/);
  }, SLOW);

  it("version create/update/delete; a version that is not X.Y.Z is refused with the rule, not a bare 'invalid'", async () => {
    const create = await vagrant("cloud", "version", "create", "acme/one", "1.0.0", "-d", "first");
    expect(create.code, create.output).toBe(0);
    expect(create.output).toMatch(/Status:\s+unreleased/);
    const update = await vagrant("cloud", "version", "update", "acme/one", "1.0.0", "-d", "first, fixed");
    expect(update.code, update.output).toBe(0);
    expect(update.output).toMatch(/Description:\s+first, fixed/);
    const loose = await vagrant("cloud", "version", "create", "acme/one", "1.2");
    refused(loose, /version "1\.2": this registry keeps versions as X\.Y\.Z/);
    logged(/^POST \/api\/v1\/box\/acme\/one\/versions 400 version "1\.2": this registry keeps versions as X\.Y\.Z/);
    expect((await vagrant("cloud", "version", "create", "acme/one", "1.0.1")).code).toBe(0);
    const del = await vagrant("cloud", "version", "delete", "acme/one", "1.0.1", "--force");
    expect(del.code, del.output).toBe(0);
    const show = await vagrant("cloud", "box", "show", "acme/one");
    expect(show.output).toMatch(/Versions:\s+1\.0\.0\s*$/m);
    refused(await vagrant("cloud", "version", "release", "acme/one", "1.0.0", "--force"), /has no uploaded box yet/);
  }, SLOW);

  it("provider create (md5, SHA1, none) and upload (direct, --no-direct); a checksum that lies fails the upload; update, delete; a url is refused", async () => {
    const vbox = box("vb", "virtualbox");
    const hyperv = box("hv", "hyperv");
    const libvirt = box("lv");
    expect((await vagrant("cloud", "provider", "create", "acme/one", "virtualbox", "1.0.0", "-c", digest("md5", vbox), "-C", "md5")).code).toBe(0);
    const up1 = await vagrant("cloud", "provider", "upload", "acme/one", "virtualbox", "1.0.0", vbox, "--no-direct");
    expect(up1.code, up1.output).toBe(0);
    expect(up1.output).toContain("Uploaded provider virtualbox");
    expect((await vagrant("cloud", "provider", "create", "acme/one", "hyperv", "1.0.0", "-c", digest("sha1", hyperv), "-C", "SHA1")).code).toBe(0);
    const up2 = await vagrant("cloud", "provider", "upload", "acme/one", "hyperv", "1.0.0", hyperv, "--direct");
    expect(up2.code, up2.output).toBe(0);
    logged(/^PUT \/api\/v1\/uploads\/REDACTED\/complete 200$/);
    // A checksum that is not the file's: Vagrant's upload (curl -f) only says 400; the reason is in our log.
    expect((await vagrant("cloud", "provider", "create", "acme/one", "libvirt", "1.0.0", "-c", "0".repeat(32), "-C", "md5")).code).toBe(0);
    const lie = await vagrant("cloud", "provider", "upload", "acme/one", "libvirt", "1.0.0", libvirt);
    expect(lie.code, lie.output).toBe(1);
    expect(lie.output).toMatch(/returned error: 400/);
    logged(/^PUT \/api\/v1\/uploads\/REDACTED 400 the upload's md5 is [0-9a-f]{32}, but the provider was created with checksum 0{32}$/);
    // Deleting the announced provider and creating it again without a checksum lets the box in.
    expect((await vagrant("cloud", "provider", "delete", "acme/one", "libvirt", "1.0.0", "--force")).code).toBe(0);
    expect((await vagrant("cloud", "provider", "create", "acme/one", "libvirt", "1.0.0")).code).toBe(0);
    expect((await vagrant("cloud", "provider", "upload", "acme/one", "libvirt", "1.0.0", libvirt)).code).toBe(0);
    const same = await vagrant("cloud", "provider", "update", "acme/one", "libvirt", "1.0.0", "-c", digest("sha256", libvirt), "-C", "sha256");
    expect(same.code, same.output).toBe(0);
    refused(await vagrant("cloud", "provider", "update", "acme/one", "libvirt", "1.0.0", "-c", digest("md5", libvirt), "-C", "md5"), /the uploaded box's checksum is its sha256/);
    const del = await vagrant("cloud", "provider", "delete", "acme/one", "hyperv", "1.0.0", "--force");
    expect(del.code, del.output).toBe(0);
    refused(await vagrant("cloud", "provider", "create", "acme/one", "docker", "1.0.0", "https://boxes.example/x.box"), /providers hosted elsewhere \(a url\) are not supported here/);
    const rel = await vagrant("cloud", "version", "release", "acme/one", "1.0.0", "--force");
    expect(rel.code, rel.output).toBe(0);
    const released = (await catalog("acme/one")).versions;
    expect(released.map((v) => [v.version, v.providers.map((p) => p.name).sort()])).toEqual([["1.0.0", ["libvirt", "virtualbox"]]]);
  }, SLOW);

  it("publish: descriptions and release, --no-private, checksum with --no-direct-upload; --private, --url and a released version are refused", async () => {
    const first = box("1.0.0");
    const pub = await vagrant("cloud", "publish", "acme/up", "1.0.0", "libvirt", first, "--force", "--release", "-d", "full", "-s", "short", "--version-description", "vd", "--no-private");
    expect(pub.code, pub.output).toBe(0);
    expect(pub.output).toContain("Complete! Published acme/up");
    const second = box("1.5.0");
    const withSum = await vagrant("cloud", "publish", "acme/up", "1.5.0", "libvirt", second, "-f", "-r", "-c", digest("sha512", second), "-C", "sha512", "--no-direct-upload");
    expect(withSum.code, withSum.output).toBe(0);
    expect((await catalog("acme/up")).versions.map((v) => v.version)).toEqual(["1.0.0", "1.5.0"]);
    refused(await vagrant("cloud", "publish", "acme/up", "1.6.0", "libvirt", box("1.6.0"), "-f", "--private"), /boxes here are public as their organisation is/);
    refused(await vagrant("cloud", "publish", "acme/up", "1.6.0", "libvirt", "--url", "https://boxes.example/x.box", "-f"), /providers hosted elsewhere/);
    refused(await vagrant("cloud", "publish", "acme/up", "1.0.0", "libvirt", first, "-f", "-r"), /version 1\.0\.0 of acme\/up is released \(or revoked\); its boxes cannot be replaced/);
    refused(await vagrant("cloud", "publish", "acme/up", "20260101", "libvirt", first, "-f"), /this registry keeps versions as X\.Y\.Z/);
  }, SLOW);

  it("search: --short, --json with --limit/--page/--sort-by/--order, --provider", async () => {
    const short = await vagrant("cloud", "search", "acme", "--short");
    expect(short.code, short.output).toBe(0);
    expect(short.output.trim().split("\n").slice(-2)).toEqual(["acme/one", "acme/up"]);
    const paged = await vagrant("cloud", "search", "acme", "--json", "--limit", "1", "--page", "2", "--sort-by", "created", "--order", "asc");
    expect(paged.code, paged.output).toBe(0);
    expect(JSON.parse(paged.output.trim().split("\n").at(-1)!), paged.output).toMatchObject([{ name: "acme/up", version: "1.5.0" }]);
    const byProvider = await vagrant("cloud", "search", "acme", "--provider", "virtualbox", "--short");
    expect(byProvider.output.trim().split("\n").at(-1), byProvider.output).toBe("acme/one");
    const none = await vagrant("cloud", "search", "nothing-matches-this");
    expect(none.output).toContain("No results found");
  }, SLOW);

  it("box add with a range takes the newest match; after a newer publish, box outdated sees it, box update downloads it, box prune keeps only it", async () => {
    const add = await client.addBox("acme/up", { version: ">= 1.0, < 2.0" });
    expect(add.code, add.output).toBe(0);
    expect(add.marker, add.output).toBe("1.5.0");
    const older = await client.addBox("acme/up", { version: "1.0.0" });
    expect(older.marker, older.output).toBe("1.0.0");
    const current = await vagrant("box", "outdated", "--global");
    expect(current.output, current.output).not.toMatch(/outdated!.*Current: 1\.5\.0/);
    const newer = await vagrant("cloud", "publish", "acme/up", "2.0.0", "libvirt", box("2.0.0"), "-f", "-r");
    expect(newer.code, newer.output).toBe(0);
    const outdated = await vagrant("box", "outdated", "--global");
    expect(outdated.code, outdated.output).toBe(0);
    expect(outdated.output).toMatch(/'acme\/up' for 'libvirt' is outdated! Current: 1\.5\.0\. Latest: 2\.0\.0/);
    const update = await vagrant("box", "update", "--box", "acme/up", "--provider", "libvirt");
    expect(update.code, update.output).toBe(0);
    expect(update.output).toContain("Successfully added box 'acme/up' (v2.0.0)");
    expect(client.marker("acme/up", "2.0.0")).toBe("2.0.0");
    const prune = await vagrant("box", "prune", "--force");
    expect(prune.code, prune.output).toBe(0);
    expect(client.versions("acme/up")).toEqual(["2.0.0"]);
  }, SLOW);

  it("version revoke, then box delete removes the box from the server", async () => {
    const revoke = await vagrant("cloud", "version", "revoke", "acme/up", "2.0.0", "--force");
    expect(revoke.code, revoke.output).toBe(0);
    expect((await catalog("acme/up")).versions.map((v) => v.version)).toEqual(["1.0.0", "1.5.0"]);
    const del = await vagrant("cloud", "box", "delete", "acme/one", "--force");
    expect(del.code, del.output).toBe(0);
    expect((await http(`${server.url}/acme/one`)).status).toBe(404);
  }, SLOW);
});
