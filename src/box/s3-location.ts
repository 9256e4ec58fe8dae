import { InputError } from "../errors.js";
import { normalizePrefix } from "./s3-layout.js";
import type { S3StoreOptions } from "./s3-store.js";

/** Bucket names as S3 allows them (lowercase, digits, '.', '-'; 3 to 63 characters). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function isS3Url(text: string): boolean {
  return /^s3:\/\//i.test(text);
}

/** `s3://bucket/prefix` → bucket and a normalised prefix ("" or "a/b/"). */
export function parseS3Url(text: string, what = "store"): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/i.exec(text);
  const bucket = m?.[1] ?? "";
  if (!m || !BUCKET.test(bucket) || bucket.includes("..")) {
    throw new InputError(`${what}: expected s3://BUCKET[/PREFIX] with a bucket name of 3-63 lowercase letters, digits, '.' or '-', got ${JSON.stringify(text)}`);
  }
  const prefix = normalizePrefix(m[2] ?? "");
  if (prefix === undefined) throw new InputError(`${what}: the prefix of ${JSON.stringify(text)} may not hold '.', '..', '\\' or control characters as a path segment`);
  return { bucket, prefix };
}

/** What may come from flags; each falls back to the environment (see `resolveS3Options`). */
export interface S3Settings {
  readonly endpoint?: string;
  readonly region?: string;
  readonly downloads?: string;
  readonly publicEndpoint?: string;
}

/**
 * The S3 store's options from `s3://bucket/prefix`, the flags, and the environment:
 * HOMELAB_S3_ENDPOINT (else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL), HOMELAB_S3_REGION (else
 * AWS_REGION, else us-east-1), HOMELAB_S3_DOWNLOADS (stream|redirect), HOMELAB_S3_PUBLIC_ENDPOINT.
 * Keys: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (else the SDK's own chain: ~/.aws, a profile).
 */
export function resolveS3Options(url: string, flags: S3Settings, env: NodeJS.ProcessEnv = process.env): S3StoreOptions {
  const { bucket, prefix } = parseS3Url(url);
  const pick = (flag: string | undefined, ...names: string[]): string | undefined => flag ?? names.map((n) => env[n]).find((v) => v !== undefined && v !== "");
  const endpoint = pick(flags.endpoint, "HOMELAB_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
  const publicEndpoint = pick(flags.publicEndpoint, "HOMELAB_S3_PUBLIC_ENDPOINT");
  for (const [name, value] of [["endpoint", endpoint], ["public endpoint", publicEndpoint]] as const) {
    if (value !== undefined && !isHttpUrl(value)) throw new InputError(`S3 ${name}: expected an http(s) URL, got ${JSON.stringify(value)}`);
  }
  const downloads = pick(flags.downloads, "HOMELAB_S3_DOWNLOADS") ?? "stream";
  if (downloads !== "stream" && downloads !== "redirect") throw new InputError(`S3 downloads: expected stream or redirect, got ${JSON.stringify(downloads)}`);
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) throw new InputError("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: set both or neither");
  return {
    bucket,
    prefix,
    region: pick(flags.region, "HOMELAB_S3_REGION", "AWS_REGION") ?? "us-east-1",
    downloads,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(publicEndpoint === undefined ? {} : { publicEndpoint }),
    ...(accessKeyId !== undefined && secretAccessKey !== undefined ? { credentials: { accessKeyId, secretAccessKey } } : {}),
  };
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === "http:" || u.protocol === "https:") && u.username === "" && u.password === "";
  } catch {
    return false;
  }
}
