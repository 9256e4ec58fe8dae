import { ResponseCache } from "./cache.js";
import { fetchText, UpstreamError } from "./http.js";

/** Where an answer came from, so reports can say "from a cache 3 h old". */
export type Provenance = { from: "network" } | { from: "cache"; ageMs: number } | { from: "stale cache"; ageMs: number; reason: string };

export interface Fetched<T> {
  value: T;
  provenance: Provenance;
}

export interface FetcherOptions {
  cache: ResponseCache;
  /** How long a cached answer is used without asking upstream. */
  ttlMs: number;
  /** Deadline of each request. */
  timeoutMs: number;
  /** Ignore fresh cache entries (still refreshes them). */
  refresh: boolean;
  now: () => number;
}

/**
 * Cache-first GET + parse. A fresh cache entry answers without the network; otherwise the
 * network is asked and a parsed answer is cached. When the network fails, an expired entry is
 * still better than nothing (offline laptop) — unless the caller asked for --refresh, which
 * means "tell me what upstream says now".
 */
export class CachedFetcher {
  private readonly inflight = new Map<string, Promise<Fetched<unknown>>>();

  constructor(private readonly opts: FetcherOptions) {}

  get<T>(url: string, parse: (body: string) => T): Promise<Fetched<T>> {
    // The same URL may be wanted by several checks in one run (e.g. stable.txt).
    const pending = this.inflight.get(url);
    if (pending) return pending as Promise<Fetched<T>>;
    const started = this.fetchParsed(url, parse);
    this.inflight.set(url, started);
    return started;
  }

  private async fetchParsed<T>(url: string, parse: (body: string) => T): Promise<Fetched<T>> {
    const { cache, ttlMs, timeoutMs, refresh, now } = this.opts;
    let cached = await cache.read(url);
    // An entry from the future (a clock set back, a planted file) has no knowable age: it is
    // never fresh, and not served as a stale fallback either (it could be any age).
    if (cached !== undefined && cached.fetchedAt > now()) cached = undefined;
    const cachedValue = cached === undefined ? undefined : tryParse(cached.body, parse);
    if (!refresh && cached && cachedValue && now() - cached.fetchedAt < ttlMs) {
      return { value: cachedValue.value, provenance: { from: "cache", ageMs: now() - cached.fetchedAt } };
    }
    let body: string;
    try {
      body = await fetchText(url, timeoutMs);
    } catch (err) {
      const reason = err instanceof UpstreamError ? err.reason : String(err);
      // A 404 is an answer ("no such release"), not an outage: never hide it behind the cache.
      const isAnswer = err instanceof UpstreamError && err.status === 404;
      if (!refresh && !isAnswer && cached && cachedValue) {
        return { value: cachedValue.value, provenance: { from: "stale cache", ageMs: now() - cached.fetchedAt, reason } };
      }
      throw err;
    }
    let value: T;
    try {
      value = parse(body);
    } catch (err) {
      throw new UpstreamError(url, `${url}: ${err instanceof Error ? err.message : String(err)}`);
    }
    await cache.write({ url, fetchedAt: now(), body });
    return { value, provenance: { from: "network" } };
  }
}

function tryParse<T>(body: string, parse: (body: string) => T): { value: T } | undefined {
  try {
    return { value: parse(body) };
  } catch {
    return undefined;
  }
}
