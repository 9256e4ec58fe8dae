/**
 * One HTTP GET with a hard deadline. Upstream answers are small text files; anything bigger
 * than MAX_BODY_BYTES is not what we asked for. Every failure becomes an UpstreamError whose
 * `reason` is short enough for a "could not check: <reason>" line.
 */

const MAX_BODY_BYTES = 2 * 1024 * 1024;

export class UpstreamError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
    /** HTTP status when the server answered, so callers can tell "does not exist" (404) apart. */
    readonly status?: number,
  ) {
    super(reason);
    this.name = "UpstreamError";
  }
}

export async function fetchText(url: string, timeoutMs: number): Promise<string> {
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { signal, redirect: "follow", headers: { accept: "text/plain, application/json, application/yaml, */*" } });
  } catch (err) {
    throw new UpstreamError(url, describeFetchFailure(url, err, timeoutMs));
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw new UpstreamError(url, `${url} answered HTTP ${response.status}`, response.status);
  }
  try {
    return await readCapped(response, url);
  } catch (err) {
    if (err instanceof UpstreamError) throw err;
    throw new UpstreamError(url, describeFetchFailure(url, err, timeoutMs));
  }
}

async function readCapped(response: Response, url: string): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) {
    await response.body?.cancel().catch(() => undefined);
    throw new UpstreamError(url, `${url} sent ${declared} bytes (more than ${MAX_BODY_BYTES}): not a version file`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body === null) return "";
  // An explicit reader: the DOM typing of ReadableStream (pulled in by test tooling) has no
  // async iterator, though Node's stream does.
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw new UpstreamError(url, `${url} sent more than ${MAX_BODY_BYTES} bytes: not a version file`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function describeFetchFailure(url: string, err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; cause?: { code?: string; name?: string } };
  if (e.name === "TimeoutError" || e.name === "AbortError" || e.cause?.name === "TimeoutError") {
    return `no answer from ${url} within ${timeoutMs} ms`;
  }
  const host = safeHost(url);
  switch (e.cause?.code) {
    case "ECONNREFUSED":
      return `connection refused by ${host}`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `cannot resolve ${host} (offline?)`;
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return `connection to ${host} dropped`;
    case "ENETUNREACH":
    case "EHOSTUNREACH":
      return `network unreachable for ${host} (offline?)`;
    default:
      return `cannot fetch ${url}: ${e.cause?.code ?? (err instanceof Error ? err.message : String(err))}`;
  }
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
