import { patterns } from "../config/schema.js";

/**
 * The k3s update channel server (`https://update.k3s.io/v1-release/channels`) answers a
 * Rancher API collection: `{"type":"collection", "data":[{"id":"stable","name":"stable",
 * "latest":"v1.35.1+k3s1","type":"channel","links":{...}}, {"id":"v1.35","latest":...,
 * "latestRegexp":"v1\\.35\\..*","excludeRegexp":"^[^+]+-"}, ...]}`. Only `id` and `latest` matter.
 */
export interface K3sChannels {
  /** channel id → newest release on it (`stable`, `latest`, `v1.35`, ...). Pre-releases left out. */
  latest: ReadonlyMap<string, string>;
}

export function parseK3sChannels(text: string): K3sChannels {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const list = (data as { data?: unknown } | null)?.data;
  if (!Array.isArray(list)) throw new Error("expected a JSON object with a `data` list of channels");
  const latest = new Map<string, string>();
  for (const channel of list) {
    const { id, latest: version } = (channel ?? {}) as { id?: unknown; latest?: unknown };
    // Testing channels carry -rc releases; the schema (and homelab) only pins final releases.
    if (typeof id === "string" && typeof version === "string" && patterns.K3S_VERSION.test(version)) latest.set(id, version);
  }
  if (!latest.has("stable")) throw new Error("no `stable` channel in the k3s channels list");
  return { latest };
}
