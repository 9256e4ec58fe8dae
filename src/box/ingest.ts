import { createHash } from "node:crypto";
import { Transform } from "node:stream";
import { InputError } from "../errors.js";
import { BoxInspector } from "./inspect.js";
import { parseArchitecture, parseProvider, type Architecture } from "./names.js";
import { UploadTooLargeError, type PublishRequest } from "./store.js";

const CHUNK = 1 << 20;

/** What one read of an upload tells: its sha256 and size, and the provider/architecture it is for. */
export interface Ingested {
  readonly checksum: string;
  readonly size: number;
  readonly provider: string;
  readonly architecture: Architecture;
}

/**
 * The one pass every store makes over an upload on its way to storage (a file, an object):
 * hashes it, counts it against the size limit, reports progress and inspects it as a box, so
 * every store checks a box the same way. Pipe the source through `stream`; after it ended,
 * `finish` says what the box is (or throws an InputError saying why it is not one).
 */
export class BoxIngest {
  readonly stream: Transform;
  private readonly hash = createHash("sha256");
  private readonly inspector: BoxInspector;
  private bytes = 0;

  constructor(private readonly req: Pick<PublishRequest, "label" | "maxBytes" | "onProgress" | "total" | "provider" | "architecture">) {
    this.inspector = new BoxInspector(req.label);
    let lastReport = 0;
    const self = this;
    this.stream = new Transform({
      highWaterMark: CHUNK,
      transform(chunk: Buffer, _enc, done) {
        self.hash.update(chunk);
        self.bytes += chunk.length;
        if (req.maxBytes !== undefined && self.bytes > req.maxBytes) return done(tooLarge(req.label, req.maxBytes));
        if (req.onProgress && self.bytes - lastReport >= 8 * CHUNK) {
          lastReport = self.bytes;
          req.onProgress(self.progress());
        }
        self.inspector.write(chunk).then(() => done(null, chunk), done);
      },
    });
  }

  get size(): number {
    return this.bytes;
  }

  /** Stops the inspection early (the copy failed or was aborted). */
  destroy(): void {
    this.inspector.destroy();
  }

  async finish(): Promise<Ingested> {
    const { req } = this;
    req.onProgress?.(this.progress());
    const info = await this.inspector.end(req.provider);
    // The box's own metadata names a file and a catalog entry: the same rules as a flag.
    const provider = parseProvider(info.metadata.provider, `${req.label}: metadata.json provider`);
    const declared = info.metadata.architecture === undefined ? undefined : parseArchitecture(info.metadata.architecture, `${req.label}: metadata.json architecture`);
    if (req.architecture !== undefined && declared !== undefined && declared !== req.architecture) {
      throw new InputError(`${req.label}: its metadata.json says architecture ${JSON.stringify(declared)}, but it was published as ${JSON.stringify(req.architecture)}`);
    }
    return { checksum: this.hash.digest("hex"), size: this.bytes, provider, architecture: req.architecture ?? declared ?? "amd64" };
  }

  private progress(): { bytes: number; total?: number } {
    return this.req.total === undefined ? { bytes: this.bytes } : { bytes: this.bytes, total: this.req.total };
  }
}

export function tooLarge(label: string, max: number): UploadTooLargeError {
  return new UploadTooLargeError(`${label}: larger than the maximum upload size (${max} bytes)`);
}
