import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishBox } from "../../src/box/publish.js";
import { startRegistryServer, type RegistryServer } from "../../src/box/server.js";
import { CONTENT_SECURITY_POLICY, escapeHtml, formatSize, renderBoxPage, renderIndexPage } from "../../src/box/web-page.js";
import type { Catalog } from "../../src/box/catalog.js";
import { decodePng, inkRatio } from "../support/png.js";
import { needTool } from "../support/tools.js";
import { http, makeBox, tempDir } from "./support.js";

/**
 * The registry's web page, read by a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core) with JavaScript off and on: what a person sees, what the copy buttons put on
 * the clipboard, where the links lead, and that a hostile catalog stays text.
 */
const CHROMIUM = "/usr/bin/chromium";
const haveChromium = needTool("chromium");

const tmp = tempDir();
const root = join(tmp.path, "root");
// A catalog is a file anyone with write access to the root may have edited: its name and
// description are free text, rendered into the page.
const XSS_NAME = `<img src=x onerror="window.__xss='name'"><script>window.__xss='name-script'</script>`;
const XSS_DESCRIPTION = `"><script>window.__xss='description'</script><b onmouseover=alert(1)>bold?</b> & 'quotes'`;
let server: RegistryServer;
let sha = "";
let size = 0;
let browser: Browser | undefined;

beforeAll(async () => {
  const a = makeBox(tmp.path, "a", { imageBytes: 48 * 1024 });
  const b = makeBox(tmp.path, "b", { imageBytes: 96 * 1024 });
  const arm = makeBox(tmp.path, "arm", { metadata: { provider: "libvirt", format: "qcow2", virtual_size: 1, architecture: "arm64" } });
  await publishBox({ file: a, name: "acme/node", version: "1.0.0", registry: root });
  await publishBox({ file: b, name: "acme/node", version: "1.2.0", registry: root });
  await publishBox({ file: arm, name: "acme/node", version: "1.2.0", registry: root, architecture: "arm64" });
  sha = createHash("sha256").update(readFileSync(b)).digest("hex");
  size = readFileSync(b).length;
  mkdirSync(join(root, "evil", "box"), { recursive: true });
  const evil: Catalog = {
    name: XSS_NAME,
    description: XSS_DESCRIPTION,
    versions: [{ version: "0.1.0", providers: [{ name: "libvirt", url: "0.1.0/x.box", checksum_type: "sha256", checksum: "a".repeat(64), architecture: "amd64", default_architecture: true, size: 1 }] }],
  };
  writeFileSync(join(root, "evil", "box", "catalog.json"), JSON.stringify(evil));
  server = await startRegistryServer({ root, port: 0, writeTokens: [], readTokens: [] });
  if (haveChromium) {
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // No background traffic (updates, safe browsing, metrics): the tests talk to loopback only.
      // Chromium's sandbox refuses to start as root (CI containers run tests as root).
      args: ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check", ...(process.getuid?.() === 0 ? ["--no-sandbox"] : [])],
    });
  }
});
afterAll(async () => {
  await browser?.close();
  await server?.close({ graceMs: 1000 });
  tmp.cleanup();
});

const HTML = { Accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" };

describe("web page over HTTP", () => {
  it("answers a browser with HTML (CSP, ETag, 304, HEAD) and everyone else with the JSON they always got", async () => {
    const page = await http(`${server.url}/`, { headers: HTML });
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.headers["content-security-policy"]).toBe(CONTENT_SECURITY_POLICY);
    expect(page.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(page.headers.vary).toBe("Accept");
    expect(page.headers["x-content-type-options"]).toBe("nosniff");
    const etag = page.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect((await http(`${server.url}/`, { headers: { ...HTML, "If-None-Match": etag } })).status).toBe(304);
    const head = await http(`${server.url}/`, { method: "HEAD", headers: HTML });
    expect(head.headers["content-length"]).toBe(String(page.body.length));
    expect(head.body.length).toBe(0);

    // curl's */*, Vagrant's and `homelab box list`'s application/json: the JSON index and catalog.
    for (const accept of [undefined, "*/*", "application/json", "application/json, text/html"]) {
      const headers = accept === undefined ? {} : { Accept: accept };
      const index = await http(`${server.url}/`, { headers });
      expect(index.headers["content-type"]).toBe("application/json");
      expect(JSON.parse(index.body.toString()).boxes.map((b: Catalog) => b.name)).toEqual(["acme/node", XSS_NAME]);
      const catalog = await http(`${server.url}/acme/node`, { headers });
      expect(JSON.parse(catalog.body.toString()).versions).toHaveLength(2);
    }
    const boxPage = await http(`${server.url}/acme/node`, { headers: HTML });
    expect(boxPage.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect((await http(`${server.url}/acme/nothing`, { headers: HTML })).status).toBe(404);
  });

  it("escapes every catalog value: the hostile name and description arrive as text, never as markup", async () => {
    const html = (await http(`${server.url}/`, { headers: HTML })).body.toString();
    expect(html).toContain(escapeHtml(XSS_NAME));
    expect(html).not.toContain("<img src=x");
    expect(html).not.toContain("<script>window.__xss");
    // Exactly one script element: the page's own.
    expect(html.match(/<script/g)).toHaveLength(1);
  });

  it("renders the release state, description and revocation reason a version may carry", () => {
    const base: Catalog = {
      name: "acme/rel",
      description: "",
      versions: ["1.0.0", "1.1.0", "2.0.0"].map((version) => ({
        version,
        providers: [{ name: "libvirt", url: `${version}/x.box`, checksum_type: "sha256" as const, checksum: "b".repeat(64), architecture: "amd64" as const, default_architecture: true, size: 3 * 1024 ** 3 }],
      })),
    };
    const withState = {
      ...base,
      versions: [
        { ...base.versions[0]!, description: "first <release>" },
        { ...base.versions[1]!, status: "revoked", revoked_reason: "CVE-2026-0001 <in> kernel" },
        { ...base.versions[2]!, status: "unreleased" },
      ],
    } as unknown as Catalog; // the release fields are optional in CatalogVersion once the API branch adds them
    const ref = { org: "acme", name: "rel" };
    const html = renderBoxPage({ ref, catalog: withState }, { baseUrl: "http://boxes.example:8080" });
    expect(html).toContain('<span class="state revoked">revoked</span>');
    expect(html).toContain('<span class="state unreleased">unreleased</span>');
    expect(html).toContain("CVE-2026-0001 &#60;in&#62; kernel");
    expect(html).toContain("first &#60;release&#62;");
    // Only the released version is offered to add; the newest release is 1.0.0, not the unreleased 2.0.0.
    expect(html).toContain("vagrant box add --box-version 1.0.0 --provider libvirt http://boxes.example:8080/acme/rel");
    expect(html).not.toContain("--box-version 1.1.0");
    expect(html).not.toContain("--box-version 2.0.0");
    expect(html).toContain("config.vm.box_version = &#34;1.0.0&#34;");
    const index = renderIndexPage([{ ref, catalog: withState }], { baseUrl: "http://boxes.example:8080" });
    expect(index).toMatch(/<td>1\.0\.0<\/td>/);
    // No status at all: every version active (catalogs written before release states existed).
    expect(renderBoxPage({ ref, catalog: base }, { baseUrl: "http://x" }).match(/state active/g)).toHaveLength(3);
    expect(formatSize(3 * 1024 ** 3)).toBe("3.0 GiB");
    expect(formatSize(1536)).toBe("1.5 KiB");
    expect(formatSize(999)).toBe("999 bytes");
  });
});

describe.skipIf(!haveChromium)("web page in headless Chromium", () => {
  async function open(js: boolean): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
    const ctx = await browser!.newContext({ javaScriptEnabled: js, viewport: { width: 1100, height: 900 } });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(e.message));
    return { ctx, page, errors };
  }

  it("without JavaScript: the index and the box page read fully, the screenshot shows them, every link works", async () => {
    const { ctx, page } = await open(false);
    try {
      await page.goto(`${server.url}/`);
      expect(await page.title()).toBe("Vagrant boxes");
      const tree = await page.locator("body").ariaSnapshot();
      expect(tree).toContain('heading "Vagrant boxes" [level=1]');
      expect(tree).toMatch(/row "acme\/node .*1\.2\.0 libvirt \(amd64\), libvirt \(arm64\) 2"/);
      // The hostile name is shown as the text it is.
      expect(await page.locator("tbody tr").nth(1).locator("td").first().innerText()).toBe(XSS_NAME);
      expect(await page.locator("img").count()).toBe(0);
      const shot = decodePng(await page.screenshot());
      expect(shot.width).toBe(1100);
      expect(inkRatio(shot)).toBeGreaterThan(0.01);
      // The heading is drawn (dark on light or light on dark), not an empty box.
      expect(inkRatio(decodePng(await page.locator("h1").screenshot()))).toBeGreaterThan(0.01);

      await page.getByRole("link", { name: "acme/node" }).click();
      expect(page.url()).toBe(`${server.url}/acme/node`);
      const text = await page.locator("body").innerText();
      expect(text).toContain(`vagrant box add ${server.url}/acme/node`);
      expect(text).toContain(`config.vm.box = "acme/node"\n  config.vm.box_url = "${server.url}/acme/node"\n  config.vm.box_version = "1.2.0"`);
      expect(text).toContain(sha);
      expect(text).toContain(formatSize(size));
      expect(text).toContain(`vagrant box add --box-version 1.0.0 --provider libvirt ${server.url}/acme/node`);
      expect(await page.getByRole("button").count()).toBe(0); // copy buttons come with script only
      const rows = await page.locator("section#v1\\.2\\.0 tbody tr").allInnerTexts();
      expect(rows.map((r) => r.split("\t").slice(0, 2).join(" "))).toEqual(["libvirt amd64 (default)", "libvirt arm64"]);
      expect(inkRatio(decodePng(await page.screenshot({ fullPage: true })))).toBeGreaterThan(0.01);

      // Every link on the box page leads somewhere real: downloads are the very bytes, the back link is the index.
      const hrefs = await page.locator("a[href]").evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href));
      expect(hrefs).toHaveLength(4);
      for (const href of hrefs) {
        const res = await http(href);
        expect(res.status, href).toBe(200);
      }
      const download = await http(hrefs.find((h) => h.endsWith("/1.2.0/libvirt/amd64"))!);
      expect(createHash("sha256").update(download.body).digest("hex")).toBe(sha);
      await page.getByRole("link", { name: "All boxes" }).click();
      expect(page.url()).toBe(`${server.url}/`);
      await page.getByRole("link", { name: XSS_NAME }).click();
      expect(page.url()).toBe(`${server.url}/evil/box`);
      expect(await page.locator("h1").innerText()).toBe(XSS_NAME);
    } finally {
      await ctx.close();
    }
  });

  it("with JavaScript: the page's own script runs under its CSP, injected ones do not, and a copy button copies", async () => {
    const { ctx, page, errors } = await open(true);
    try {
      await ctx.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
      for (const path of ["/", "/evil/box"]) {
        await page.goto(`${server.url}${path}`);
        expect(await page.evaluate(() => (window as { __xss?: unknown }).__xss)).toBeUndefined();
      }
      await page.goto(`${server.url}/acme/node`);
      const buttons = page.getByRole("button", { name: /^Copy/ });
      // One per command: box add, the Vagrantfile, and one per released version.
      expect(await buttons.count()).toBe(4);
      const first = buttons.first();
      await first.click();
      await expect.poll(() => first.innerText()).toBe("Copied");
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`vagrant box add ${server.url}/acme/node`);
      await buttons.nth(1).click();
      expect(await page.evaluate(() => navigator.clipboard.readText())).toMatch(/^Vagrant\.configure\("2"\) do \|config\|\n {2}config\.vm\.box = "acme\/node"\n[\s\S]*\nend$/);
      // The button is drawn on the command block (pixels, not only the DOM).
      expect(inkRatio(decodePng(await first.screenshot()))).toBeGreaterThan(0.02);
      expect(errors).toEqual([]);
    } finally {
      await ctx.close();
    }
  });
});
