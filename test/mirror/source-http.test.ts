import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromCatalog, parseSourceSpec, SourceClient, SourceError } from "../../src/mirror/index.js";

/** The source client's redirect and token rules, against two servers on 127.0.0.1 (two origins). */
describe("source client", () => {
  const seen: Array<{ server: "a" | "b"; path: string; auth?: string }> = [];
  let a: ReturnType<typeof createServer>;
  let b: ReturnType<typeof createServer>;
  let A = "";
  let B = "";
  const handler = (name: "a" | "b") => (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? "/";
    seen.push({ server: name, path, ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
    if (path === "/rel") return void res.writeHead(302, { Location: "sub/../json" }).end();
    if (path === "/to-b") return void res.writeHead(307, { Location: `${B}/json` }).end();
    if (path === "/back-to-a") return void res.writeHead(301, { Location: `${A}/json` }).end();
    if (path === "/loop") return void res.writeHead(302, { Location: "/loop" }).end();
    if (path === "/file") return void res.writeHead(302, { Location: "file:///etc/passwd" }).end();
    if (path === "/html") return void res.writeHead(200, { "Content-Type": "text/html" }).end("<html>maintenance</html>");
    if (path === "/json") return void res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ from: name }));
    res.writeHead(404).end();
  };
  beforeAll(async () => {
    a = createServer(handler("a"));
    b = createServer(handler("b"));
    await new Promise<void>((r) => a.listen(0, "127.0.0.1", r));
    await new Promise<void>((r) => b.listen(0, "127.0.0.1", r));
    A = `http://127.0.0.1:${(a.address() as AddressInfo).port}`;
    B = `http://127.0.0.1:${(b.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    a.close();
    b.close();
  });

  it("follows relative and cross-host redirects; the token goes to its own origin only, also when a redirect comes back", async () => {
    const c = new SourceClient({ token: "tok", tokenOrigin: new URL(A).origin });
    expect(await c.getJson(`${A}/rel`)).toEqual({ from: "a" });
    seen.length = 0;
    expect(await c.getJson(`${A}/to-b`)).toEqual({ from: "b" });
    expect(seen).toEqual([
      { server: "a", path: "/to-b", auth: "Bearer tok" },
      { server: "b", path: "/json" },
    ]);
    seen.length = 0;
    expect(await c.getJson(`${B}/back-to-a`)).toEqual({ from: "a" });
    expect(seen).toEqual([
      { server: "b", path: "/back-to-a" },
      { server: "a", path: "/json", auth: "Bearer tok" },
    ]);
  });

  it("refuses redirect loops and non-http locations, and says what a non-JSON or missing answer is", async () => {
    const c = new SourceClient();
    await expect(c.getJson(`${A}/loop`)).rejects.toThrow(/more than 10 redirects/);
    await expect(c.getJson(`${A}/file`)).rejects.toThrow(/redirect to a file: URL/);
    await expect(c.getJson(`${A}/html`)).rejects.toThrow(/not JSON \(expected a Vagrant catalog/);
    const missing = await c.getJson(`${A}/nope`).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(SourceError);
    expect(missing).toMatchObject({ status: 404, retryable: false });
    await expect(new SourceClient({ connectTimeoutMs: 200 }).getJson("http://127.0.0.1:9/x")).rejects.toMatchObject({ retryable: true });
  });

  it("sources: URLs are catalogs, org/box and org are names; a catalog's files say why they cannot be copied", () => {
    expect(parseSourceSpec("https://h/x.json", "https://api")).toEqual({ kind: "catalog", url: "https://h/x.json" });
    expect(parseSourceSpec("bento/debian-12", "https://api/")).toEqual({ kind: "box", api: "https://api", org: "bento", name: "debian-12" });
    expect(parseSourceSpec("bento", "https://api")).toEqual({ kind: "org", api: "https://api", org: "bento" });
    for (const bad of ["a/b/c", "../x", "", "ftp://h/x"]) expect(() => parseSourceSpec(bad, "https://api")).toThrow();
    const { files } = fromCatalog(
      {
        name: "Bento_Org/box",
        versions: [
          { version: "202309.08.0", providers: [{ name: "virtualbox", url: "https://h/a.box", checksum_type: "sha256", checksum: "0".repeat(64) }] },
          { version: "1.0.0", providers: [{ name: "libvirt", url: "https://h/b.box", checksum_type: "crc32", checksum: "abcd" }] },
        ],
      },
      new URL("https://h/catalog.json"),
      undefined,
    );
    expect(files.map((f) => f.problem)).toEqual([
      expect.stringMatching(/not a valid registry name/),
      expect.stringMatching(/not a valid registry name/),
    ]);
    const ok = fromCatalog(
      {
        name: "lab/box",
        versions: [
          { version: "202309.08.0", providers: [{ name: "virtualbox", url: "a.box", checksum_type: "sha256", checksum: "0".repeat(64) }] },
          { version: "1.0.0", providers: [{ name: "libvirt", url: "b.box", checksum_type: "crc32", checksum: "abcd" }] },
          { version: "1.0.1", providers: [{ name: "libvirt", url: "c.box", architecture: "s390x", checksum_type: "md5", checksum: "0".repeat(32) }] },
          { version: "1.0.2", providers: [{ name: "libvirt", url: "d.box" }] },
        ],
      },
      new URL("https://h/cat/lab.json"),
      undefined,
    ).files;
    expect(ok.map((f) => f.problem)).toEqual([
      expect.stringMatching(/version "202309\.08\.0" is not X\.Y\.Z/),
      expect.stringMatching(/checksum_type "crc32" is not one of md5, sha1, sha256, sha384, sha512/),
      expect.stringMatching(/architecture "s390x" is not one the registry holds/),
      expect.stringMatching(/gives no checksum/),
    ]);
    expect(ok[0]!.url).toBe("https://h/cat/a.box");
  });
});
