import type { IncomingMessage } from "node:http";

/** API bodies are small JSON objects; anything larger is not one of them. */
export const MAX_API_BODY = 64 * 1024;

export type BodyResult = { ok: true; body: Record<string, unknown> } | { ok: false; status: 400 | 413; reason: string };

/** Reads a JSON object body (an empty body is `{}`), refusing more than MAX_API_BODY bytes. */
export async function readJsonBody(req: IncomingMessage): Promise<BodyResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_API_BODY) return { ok: false, status: 413, reason: `the request body is larger than ${MAX_API_BODY} bytes` };
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return { ok: true, body: {} };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, status: 400, reason: "the request body is not valid JSON" };
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { ok: false, status: 400, reason: "the request body must be a JSON object" };
  return { ok: true, body: raw as Record<string, unknown> };
}

/** `body[key]` when it is an object (Vagrant Cloud wraps fields: `{"version": {...}}`), else the body itself. */
export function section(body: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = body[key];
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : body;
}

/** A string field, undefined when absent or null; a field of another type is an error. */
export function stringField(obj: Record<string, unknown>, key: string, max = 65536): string | undefined | { error: string } {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") return { error: `${key} must be a string` };
  if (v.length > max) return { error: `${key} is longer than ${max} characters` };
  return v;
}
