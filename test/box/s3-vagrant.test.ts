import { createHash } from "node:crypto";
import { createReadStream, readFileSync } from "node:fs";
import { createServer, connect, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRegistryServer, type RegistryServer } from "../../src/box/server.js";
import { S3BoxStore } from "../../src/box/s3-store.js";
import { needS3, testBucket } from "../support/s3.js";
import { needTool } from "../support/tools.js";
import { runClient as run, VagrantClient } from "../support/vagrant-client.js";
import { makeBox, READ_TOKEN, tempDir, WRITE_TOKEN } from "./support.js";

/**
 * The real client on boxes kept in S3 (radosgw): Debian's vagrant 2.3.4 `vagrant box add` by
 * short name through VAGRANT_SERVER_URL with a read token, from `box serve` streaming the object,
 * and from `box serve` redirecting to a presigned URL. The S3 side of the redirect goes through a
 * recording TCP proxy on loopback: what Vagrant (curl underneath) sends to the storage host is
 * checked for our bearer token.
 */
const s3 = await needS3();
const haveVagrant = needTool("vagrant") && needTool("qemu-img") && needTool("curl");

describe.skipIf(!s3 || !haveVagrant)("vagrant box add from the S3 store", { timeout: 180_000 }, () => {
  const tmp = tempDir("homelab-s3vagrant-");
  let bucket: Awaited<ReturnType<typeof testBucket>>;
  let streaming: S3BoxStore;
  let redirecting: S3BoxStore;
  let streamServer: RegistryServer;
  let redirectServer: RegistryServer;
  let proxy: Server;
  let seenByStorage = "";
  const log: string[] = [];
  const boxes: Record<string, string> = {};

  beforeAll(async () => {
    bucket = await testBucket(s3!, "vagrant");
    // The storage host as clients reach it: a TCP proxy that records every byte sent to it.
    const upstream = new URL(s3!.endpoint);
    proxy = createServer((client) => {
      const up = connect(Number(upstream.port), upstream.hostname);
      client.on("data", (d: Buffer) => (seenByStorage += d.toString("latin1")));
      client.pipe(up).pipe(client);
      client.on("error", () => up.destroy());
      up.on("error", () => client.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;

    const common = { bucket: bucket.name, prefix: "vagrant/", endpoint: s3!.endpoint, region: s3!.region, credentials: s3! };
    streaming = await S3BoxStore.open({ ...common, downloads: "stream" });
    redirecting = await S3BoxStore.open({ ...common, downloads: "redirect", publicEndpoint: proxyUrl });
    for (const version of ["1.0.0", "1.1.0"]) {
      const file = makeBox(tmp.path, version, { qcow2: true, marker: `s3-${version}` });
      boxes[version] = createHash("sha256").update(readFileSync(file)).digest("hex");
      await streaming.publish(createReadStream(file), { box: { org: "acme", name: "node" }, version, label: file });
    }
    const access = { writeTokens: [WRITE_TOKEN], readTokens: [READ_TOKEN] };
    streamServer = await startRegistryServer({ backend: streaming, port: 0, ...access });
    redirectServer = await startRegistryServer({ backend: redirecting, port: 0, ...access, log: (l) => log.push(l) });
  });
  afterAll(async () => {
    await streamServer?.close({ graceMs: 1000 });
    await redirectServer?.close({ graceMs: 1000 });
    proxy?.close();
    streaming?.destroy();
    redirecting?.destroy();
    await bucket?.cleanup();
    tmp.cleanup();
  });

  const client = (home: string, server: string) => new VagrantClient({ home: join(tmp.path, home), serverUrl: server, token: READ_TOKEN });

  it("adds the newest version by short name from a server streaming the object", async () => {
    const vagrant = client("home-stream", streamServer.url);
    const add = await vagrant.addBox("acme/node");
    expect(add.code, add.output).toBe(0);
    const list = await vagrant.run(["box", "list"]);
    expect(list.output).toMatch(/^acme\/node\s+\(libvirt, 1\.1\.0\)$/m);
    expect(add.marker, add.output).toBe("s3-1.1.0");
  });

  it("adds a version through a redirect to a presigned URL, and never sends our token to the storage host", async () => {
    seenByStorage = "";
    const add = await client("home-redirect", redirectServer.url).addBox("acme/node", { version: "1.0.0" });
    expect(add.code, add.output).toBe(0);
    expect(add.marker, add.output).toBe("s3-1.0.0");
    expect(log.some((l) => /^GET \/acme\/node\/1\.0\.0\/libvirt\/amd64 302$/.test(l))).toBe(true);
    // The download really came from the storage host, presigned, without our bearer token.
    expect(seenByStorage).toMatch(/^GET \/[^ ]*X-Amz-Signature=[0-9a-f]+[^ ]* HTTP\/1\.1\r\n/m);
    expect(seenByStorage).not.toMatch(/^authorization:/im);
    expect(seenByStorage).not.toContain(READ_TOKEN);
  });

  it("curl -L with the token in a header: the redirect target gets neither the header nor the token, and the bytes check out", async () => {
    seenByStorage = "";
    const out = join(tmp.path, "curl.box");
    const curl = await run("curl", ["-sS", "-f", "-L", "-H", `Authorization: Bearer ${READ_TOKEN}`, "-o", out, `${redirectServer.url}/acme/node/1.1.0/libvirt/amd64`], process.env);
    expect(curl.code, curl.output).toBe(0);
    expect(createHash("sha256").update(readFileSync(out)).digest("hex")).toBe(boxes["1.1.0"]);
    expect(seenByStorage).toMatch(/X-Amz-Signature=/);
    expect(seenByStorage).not.toMatch(/^authorization:/im);
    expect(seenByStorage).not.toContain(READ_TOKEN);
    // Without a token the redirect is not given at all.
    const anon = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", `${redirectServer.url}/acme/node/1.1.0/libvirt/amd64`], process.env);
    expect(anon.output.trim()).toBe("401");
  });
});
