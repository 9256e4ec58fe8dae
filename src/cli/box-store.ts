import { Option, type Command } from "commander";
import { InputError } from "../errors.js";
import type { S3BoxStore } from "../box/s3-store.js";

/**
 * The S3 store's flags, shared by every `box` command that works on a registry (publish, list,
 * release, revoke, rm, fsck, serve): one place adds them and one turns them into a store.
 */
export interface StoreFlags {
  store?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3Downloads?: string;
  s3PublicEndpoint?: string;
}

export const STORE_HELP = "an S3 bucket (and key prefix) instead of a directory, e.g. s3://boxes/registry";

/** Adds --store and --s3-endpoint/--s3-region; `serve` also gets the download options. */
export function addStoreOptions(cmd: Command, opts: { serve?: boolean } = {}): Command {
  cmd
    .option("--store <s3://bucket/prefix>", opts.serve ? `${STORE_HELP}; several servers may share it` : STORE_HELP)
    .option("--s3-endpoint <url>", "S3-compatible server, e.g. http://127.0.0.1:7480 (default: $HOMELAB_S3_ENDPOINT, else AWS's)")
    .option("--s3-region <name>", "signing region (default: $HOMELAB_S3_REGION, $AWS_REGION, else us-east-1)");
  if (opts.serve) {
    cmd
      .addOption(new Option("--s3-downloads <mode>", "stream: the server sends the bytes; redirect: 302 to a presigned S3 URL (default: $HOMELAB_S3_DOWNLOADS, else stream)").choices(["stream", "redirect"]))
      .option("--s3-public-endpoint <url>", "the S3 endpoint clients reach, written into presigned URLs (default: --s3-endpoint)");
  }
  return cmd;
}

/**
 * The S3 store the flags name, opened (its bucket checked), or undefined without --store.
 * `other` is the command's directory flag (--registry, or serve's --root): given with --store it
 * is a usage error, as are --s3-* flags without --store. Keys come from AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY, else the SDK's chain (s3-location.ts).
 */
export async function openStoreFlags(flags: StoreFlags, other: { flag: string; value: string | undefined }): Promise<S3BoxStore | undefined> {
  if (flags.store !== undefined && other.value !== undefined) {
    throw new InputError(`${other.flag} and --store: give one (${other.flag} a directory${other.flag === "--registry" ? " or URL" : ""}, --store an S3 bucket)`);
  }
  const s3Flags = [flags.s3Endpoint, flags.s3Region, flags.s3Downloads, flags.s3PublicEndpoint].some((f) => f !== undefined);
  if (flags.store === undefined) {
    if (s3Flags) throw new InputError("--s3-* options go with --store s3://bucket/prefix");
    if (other.value !== undefined && /^s3:\/\//i.test(other.value)) throw new InputError(`${other.flag}: an S3 bucket is given as --store ${other.value}`);
    return undefined;
  }
  const { isS3Url, resolveS3Options } = await import("../box/s3-location.js");
  if (!isS3Url(flags.store)) throw new InputError(`--store: expected s3://bucket/prefix, got ${JSON.stringify(flags.store)} (a directory is ${other.flag})`);
  const s3 = resolveS3Options(flags.store, {
    ...(flags.s3Endpoint === undefined ? {} : { endpoint: flags.s3Endpoint }),
    ...(flags.s3Region === undefined ? {} : { region: flags.s3Region }),
    ...(flags.s3Downloads === undefined ? {} : { downloads: flags.s3Downloads }),
    ...(flags.s3PublicEndpoint === undefined ? {} : { publicEndpoint: flags.s3PublicEndpoint }),
  });
  // The SDK warns on Node < 22 about its releases after January 2027; ours is pinned to one that runs on Node 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const { S3BoxStore } = await import("../box/s3-store.js");
  return S3BoxStore.open(s3);
}

/**
 * Runs a one-shot command on the registry the flags name: the S3 store (closed after), else the
 * directory or URL from --registry / $HOMELAB_REGISTRY / ./registry.
 */
export async function withRegistry<T>(flags: StoreFlags & { registry?: string }, run: (registry: string | S3BoxStore) => Promise<T>): Promise<T> {
  const store = await openStoreFlags(flags, { flag: "--registry", value: flags.registry });
  if (store === undefined) {
    const registry = flags.registry ?? process.env.HOMELAB_REGISTRY ?? "registry";
    if (/^s3:\/\//i.test(registry)) throw new InputError(`HOMELAB_REGISTRY: an S3 bucket is given as --store ${registry}`);
    return run(registry);
  }
  try {
    return await run(store);
  } finally {
    store.destroy();
  }
}
