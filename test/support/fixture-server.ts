/**
 * A local HTTP server (127.0.0.1 only) that serves recorded release files by exact raw request path
 * (so percent-encoding is part of what is tested) and records every request path it was asked for.
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface FixtureServer {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  /** Raw request paths in arrival order, including ones that were answered 404. */
  requests: string[];
  close(): Promise<void>;
}

/** Serves `routes` on 127.0.0.1 (`port` 0: any free one; a fixed one fails if taken). */
export async function serveFixtures(routes: Record<string, string | Buffer>, port = 0): Promise<FixtureServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = req.url ?? "";
    requests.push(path);
    const body = routes[path];
    if (body === undefined) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("Not Found\n");
      return;
    }
    res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}
