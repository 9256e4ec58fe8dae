import { stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { Catalog } from "../box/catalog.js";
import { isRegistryUrl } from "../box/http-registry.js";
import { formatBoxRef, type Architecture, type BoxRef } from "../box/names.js";
import { listRegistry, publishBox } from "../box/publish.js";
import { BoxStore, type PublishResult } from "../box/store.js";

/**
 * Where mirrored boxes go: a registry directory (written by the store, as `box publish
 * --registry DIR` does) or a `homelab box serve` URL (its PUT publish API). Either way the
 * registry names the file by its own sha256 and serves its own URLs in the catalog: the
 * source's URLs never reach it.
 */
export interface MirrorTarget {
  /** Names the target in records (the directory's path or the URL), also keying the ledger. */
  readonly label: string;
  catalog(box: BoxRef): Promise<Catalog | undefined>;
  publish(file: string, entry: TargetEntry): Promise<PublishResult>;
  /**
   * A directory registry takes the bytes while they download (one pass, no second read of the
   * partial file); undefined for a URL registry, whose PUT API takes a finished file.
   */
  readonly publishStream?: (whole: Readable, entry: TargetEntry, total: number | undefined) => Promise<PublishResult>;
}

export interface TargetEntry {
  readonly box: BoxRef;
  readonly version: string;
  readonly provider: string;
  readonly architecture: Architecture | undefined;
  readonly defaultArchitecture: boolean;
  readonly force: boolean;
}

export function mirrorTarget(registry: string, token: string | undefined): MirrorTarget {
  const remote = isRegistryUrl(registry);
  let store: Promise<BoxStore> | undefined;
  return {
    label: registry,
    async catalog(box) {
      // A directory that does not exist yet is an empty registry (the first publish creates it).
      if (!remote && !(await stat(registry).then(() => true, () => false))) return undefined;
      const [catalog] = await listRegistry(registry, formatBoxRef(box), token);
      return catalog;
    },
    publish(file, e) {
      return publishBox({
        file,
        name: formatBoxRef(e.box),
        version: e.version,
        provider: e.provider,
        ...(e.architecture === undefined ? {} : { architecture: e.architecture }),
        registry,
        ...(token === undefined ? {} : { token }),
        ...(e.force ? { force: true } : {}),
        ...(e.defaultArchitecture ? { defaultArchitecture: true } : {}),
      });
    },
    ...(remote
      ? {}
      : {
          async publishStream(whole, e, total) {
            // The store's own publish, as `box publish --registry DIR` uses: hashed, inspected, fsynced, renamed.
            const s = await (store ??= BoxStore.open(registry, { create: true }));
            return s.publish(whole, {
              box: e.box,
              version: e.version,
              provider: e.provider,
              ...(e.architecture === undefined ? {} : { architecture: e.architecture }),
              ...(e.force ? { force: true } : {}),
              ...(e.defaultArchitecture ? { defaultArchitecture: true } : {}),
              label: `${formatBoxRef(e.box)}@${e.version} ${e.provider}`,
              ...(total === undefined ? {} : { total }),
            });
          },
        }),
  };
}
