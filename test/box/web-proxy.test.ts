import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishBox } from "../../src/box/publish.js";
import { BIN } from "../support/cli.js";
import { needTool } from "../support/tools.js";
import { VagrantClient } from "../support/vagrant-client.js";
import { makeBox, tempDir } from "./support.js";

/**
 * The registry behind a reverse proxy at a path prefix, with real clients only: Debian's nginx
 * (a child with its own config) proxies `/boxes/` to `homelab box serve --public-url
 * http://127.0.0.1:<nginx>/boxes`; headless Chromium follows every link of the index and the box
 * pages through the proxy and downloads the files; Vagrant 2.3.4 adds the box through it. A
 * private organisation opened with `?access_token=` keeps working link after link, is refused
 * without it, and the token never reaches the server's log or the lines a reader copies.
 */
const tools = ["nginx", "chromium", "vagrant", "qemu-img"].every((t) => needTool(t));
const TOKEN = "secret-reader-0123456789abcdef";

describe.skipIf(!tools)("the web page and Vagrant through nginx at /boxes/", () => {
  const tmp = tempDir("homelab-proxy-");
  const root = join(tmp.path, "root");
  const children: ChildProcess[] = [];
  let serveLog = "";
  let proxy = "";
  let browser: Browser;
  const sha: Record<string, string> = {};

  beforeAll(async () => {
    const publish = async (name: string, version: string): Promise<void> => {
      const file = makeBox(tmp.path, `${name.replace("/", "-")}-${version}`, { qcow2: true, marker: `${name}@${version}` });
      await publishBox({ file, name, version, registry: root });
      sha[`${name}@${version}`] = createHash("sha256").update(readFileSync(file)).digest("hex");
    };
    await publish("acme/node", "1.0.0");
    await publish("acme/node", "1.2.0");
    await publish("secret/vault", "2.0.0");
    const tokens = join(tmp.path, "tokens.json");
    writeFileSync(tokens, JSON.stringify({ writeTokens: [], readTokens: [], tokens: [{ name: "reader", token: TOKEN, access: "read", orgs: ["secret"] }] }));

    const [nginxPort, servePort] = [await freePort(), await freePort()];
    proxy = `http://127.0.0.1:${nginxPort}`;
    const serve = spawn(process.execPath, [BIN, "box", "serve", "--root", root, "--port", String(servePort), "--public-url", `${proxy}/boxes`, "--token-file", tokens], { stdio: ["ignore", "ignore", "pipe"] });
    children.push(serve);
    serve.stderr!.on("data", (d: Buffer) => (serveLog += d.toString()));
    await waitFor(`http://127.0.0.1:${servePort}/healthz`);

    const conf = join(tmp.path, "nginx");
    mkdirSync(join(conf, "tmp"), { recursive: true });
    writeFileSync(
      join(conf, "nginx.conf"),
      `daemon off;
user ${userInfo().username};
worker_processes 1;
pid ${conf}/nginx.pid;
error_log stderr warn;
events { worker_connections 64; }
http {
  access_log off;
  log_not_found off;
  client_body_temp_path ${conf}/tmp; proxy_temp_path ${conf}/tmp; fastcgi_temp_path ${conf}/tmp; uwsgi_temp_path ${conf}/tmp; scgi_temp_path ${conf}/tmp;
  server {
    listen 127.0.0.1:${nginxPort};
    location /boxes/ {
      proxy_pass http://127.0.0.1:${servePort}/;
      proxy_set_header Host $http_host;
      proxy_http_version 1.1;
      proxy_buffering off;
    }
  }
}
`,
    );
    const nginx = spawn("nginx", ["-p", conf, "-c", join(conf, "nginx.conf"), "-e", "stderr"], { stdio: ["ignore", "ignore", "inherit"] });
    children.push(nginx);
    await waitFor(`${proxy}/boxes/healthz`);

    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check", ...(process.getuid?.() === 0 ? ["--no-sandbox"] : [])],
    });
  });
  afterAll(async () => {
    await browser?.close();
    // SIGTERM: nginx's master stops its worker; box serve shuts down gracefully.
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : undefined)));
    tmp.cleanup();
  });

  const hrefs = (page: Page): Promise<string[]> => page.locator("a[href]").evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href));

  /** Follows a download link as a person does (a click) and returns the saved file's sha256. */
  async function download(page: Page, href: string): Promise<string> {
    const i = (await hrefs(page)).indexOf(href);
    expect(i, href).toBeGreaterThanOrEqual(0);
    const [dl] = await Promise.all([page.waitForEvent("download"), page.locator("a[href]").nth(i).click()]);
    const path = await dl.path();
    expect(dl.failure ? await dl.failure() : null).toBeNull();
    return createHash("sha256").update(readFileSync(path)).digest("hex");
  }

  it("Chromium follows every link on the index and the box page through the proxy: pages 200, downloads with the right sha256", async () => {
    const ctx = await browser.newContext({ acceptDownloads: true, javaScriptEnabled: false });
    const page = await ctx.newPage();
    try {
      const index = await page.goto(`${proxy}/boxes/`);
      expect(index!.status()).toBe(200);
      const boxLinks = await hrefs(page);
      // secret/vault is private: the index without a token does not list it.
      expect(boxLinks).toEqual([`${proxy}/boxes/acme/node`]);
      const box = await page.goto(boxLinks[0]!);
      expect(box!.status()).toBe(200);
      const text = await page.locator("body").innerText();
      // The lines to copy carry the public URL with its prefix.
      expect(text).toContain(`vagrant box add ${proxy}/boxes/acme/node`);
      expect(text).toContain(`config.vm.box_url = "${proxy}/boxes/acme/node"`);
      const links = await hrefs(page);
      expect(links.sort()).toEqual([`${proxy}/boxes/`, `${proxy}/boxes/acme/node/1.0.0/libvirt/amd64`, `${proxy}/boxes/acme/node/1.2.0/libvirt/amd64`]);
      for (const version of ["1.0.0", "1.2.0"]) {
        expect(await download(page, `${proxy}/boxes/acme/node/${version}/libvirt/amd64`)).toBe(sha[`acme/node@${version}`]);
      }
      const back = await page.goto(`${proxy}/boxes/`);
      await page.goto(boxLinks[0]!);
      await page.locator("a", { hasText: "All boxes" }).click();
      expect(page.url()).toBe(`${proxy}/boxes/`);
      expect(back!.status()).toBe(200);
      // The JSON catalog Vagrant reads names URLs under the prefix too.
      const catalog = (await (await fetch(`${proxy}/boxes/acme/node`)).json()) as { versions: Array<{ providers: Array<{ url: string }> }> };
      expect(catalog.versions.flatMap((v) => v.providers.map((p) => p.url))).toEqual([`${proxy}/boxes/acme/node/1.0.0/libvirt/amd64`, `${proxy}/boxes/acme/node/1.2.0/libvirt/amd64`]);
    } finally {
      await ctx.close();
    }
  });

  it("a private organisation opened with ?access_token= keeps its token on every link; without it, it is refused; the log never shows it", async () => {
    const ctx = await browser.newContext({ acceptDownloads: true, javaScriptEnabled: false });
    const page = await ctx.newPage();
    const q = `?access_token=${TOKEN}`;
    try {
      expect((await page.goto(`${proxy}/boxes/${q}`))!.status()).toBe(200);
      const boxLinks = await hrefs(page);
      expect(boxLinks.sort()).toEqual([`${proxy}/boxes/acme/node${q}`, `${proxy}/boxes/secret/vault${q}`]);
      // Clicked, not typed: the link the page wrote leads on.
      await page.locator("a", { hasText: "secret/vault" }).click();
      expect(page.url()).toBe(`${proxy}/boxes/secret/vault${q}`);
      const text = await page.locator("body").innerText();
      expect(text).toContain("2.0.0");
      // The token is on links only, never in the text a reader copies.
      expect(text).not.toContain(TOKEN);
      expect(text).toContain(`vagrant box add ${proxy}/boxes/secret/vault`);
      expect(text).toContain(`VAGRANT_CLOUD_TOKEN=token VAGRANT_SERVER_URL=${proxy}/boxes`);
      const links = await hrefs(page);
      expect(links.sort()).toEqual([`${proxy}/boxes/${q}`, `${proxy}/boxes/secret/vault/2.0.0/libvirt/amd64${q}`]);
      expect(await download(page, links.find((l) => l.includes("/2.0.0/"))!)).toBe(sha["secret/vault@2.0.0"]);
      await page.locator("a", { hasText: "All boxes" }).click();
      expect(page.url()).toBe(`${proxy}/boxes/${q}`);
      expect(await hrefs(page)).toContain(`${proxy}/boxes/secret/vault${q}`);

      // Without the token: refused, page and file alike.
      expect((await page.goto(`${proxy}/boxes/secret/vault`))!.status()).toBe(401);
      expect((await fetch(`${proxy}/boxes/secret/vault/2.0.0/libvirt/amd64`)).status).toBe(401);
      expect((await fetch(`${proxy}/boxes/secret/vault/2.0.0/libvirt/amd64?access_token=wrong-token-0123456789`)).status).toBe(403);
      // A page opened with a bearer header (not a browser) never writes that token into its links.
      const viaHeader = await (await fetch(`${proxy}/boxes/secret/vault`, { headers: { Accept: "text/html", Authorization: `Bearer ${TOKEN}` } })).text();
      expect(viaHeader).toContain("2.0.0");
      expect(viaHeader).not.toContain(TOKEN);
    } finally {
      await ctx.close();
    }
    expect(serveLog).toMatch(/GET \/secret\/vault\?access_token=REDACTED 200/);
    expect(serveLog).toMatch(/GET \/secret\/vault\/2\.0\.0\/libvirt\/amd64\?access_token=REDACTED 200/);
    expect(serveLog).toMatch(/GET \/secret\/vault 401/);
    expect(serveLog).not.toContain(TOKEN);
  });

  it("vagrant box add through the proxy: the public box by URL, the private one with VAGRANT_CLOUD_TOKEN as the page says", async () => {
    const client = new VagrantClient({ home: join(tmp.path, "vagrant-home") });
    const add = await client.addBox(`${proxy}/boxes/acme/node`);
    expect(add.code, add.output).toBe(0);
    const refused = await client.addBox(`${proxy}/boxes/secret/vault`);
    expect(refused.code).not.toBe(0);
    // The two variables the page names: the token, and the base URL with the proxy's prefix.
    const asPageSays = new VagrantClient({ home: client.home, token: TOKEN, serverUrl: `${proxy}/boxes` });
    const priv = await asPageSays.addBox(`${proxy}/boxes/secret/vault`);
    expect(priv.code, priv.output).toBe(0);
    // The same variables make the short name resolve under the prefix (Vagrant 2.3.4 expands org/box to VAGRANT_SERVER_URL/org/box).
    const short = await asPageSays.run(["box", "add", "--force", "--provider", "libvirt", "secret/vault"]);
    expect(short.code, short.output).toBe(0);
    const list = await client.run(["box", "list"]);
    expect(list.output).toMatch(/^acme\/node\s+\(libvirt, 1\.2\.0\)$/m);
    expect(list.output).toMatch(/^secret\/vault\s+\(libvirt, 2\.0\.0\)$/m);
    // The boxes Vagrant unpacked are the ones published (their marker files).
    expect(client.marker("acme/node", "1.2.0")).toBe("acme/node@1.2.0");
    expect(client.marker("secret/vault", "2.0.0")).toBe("secret/vault@2.0.0");
    expect(serveLog).not.toContain(TOKEN);
  }, 120_000);
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer`);
}
