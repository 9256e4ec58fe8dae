import { createReadStream } from "node:fs";
import { createGunzip, type Gunzip } from "node:zlib";
import { InputError } from "../errors.js";
import { BoxMembers, UnsafeMemberError } from "./box-members.js";
import { ARCHITECTURE_RULE, isProvider, normalizeArchitecture, PROVIDER_RULE, type Architecture } from "./names.js";
import { TarFormatError, TarReader } from "./tar-reader.js";

/** What a box says about itself in its `metadata.json`. */
export interface BoxMetadata {
  /** Checked against the provider name rule (names.ts) before anything uses it. */
  readonly provider: string;
  /** Present in boxes made for Vagrant >= 2.4; Vagrant's name (x86_64 in the file → amd64). */
  readonly architecture?: Architecture;
  readonly format?: string;
  /** The whole parsed metadata.json. */
  readonly raw: Readonly<Record<string, unknown>>;
}

export interface BoxInfo {
  readonly compression: "none" | "gzip";
  readonly metadata: BoxMetadata;
  readonly entries: number;
}

const METADATA_MAX = 64 * 1024;

/**
 * Inspects a box as its bytes go by (fed with `write`), so that publishing reads the file once:
 * the same chunks are hashed, copied and inspected. It detects gzip from the magic bytes,
 * parses the tar stream, checks every member lands inside the box (box-members.ts), captures
 * `metadata.json` and checks the archive is complete (a truncated upload or a corrupt gzip is
 * rejected, not published).
 */
export class BoxInspector {
  private gunzip: Gunzip | undefined;
  private decided = false;
  private compression: BoxInfo["compression"] = "none";
  private metadataText: string | undefined;
  private failure: Error | undefined;
  private readonly members = new BoxMembers();
  private readonly tar = new TarReader({
    onEntry: (e) => {
      const path = this.members.add(e);
      if (path !== "metadata.json") return false;
      if (e.kind !== "file") throw new UnsafeMemberError(`its metadata.json is a ${e.kind}, not a file`);
      return true;
    },
    onCapture: (_e, data) => {
      this.metadataText = data.toString("utf8");
    },
    maxCapture: METADATA_MAX,
  });

  /** `label` names the box in errors (a file path or an upload URL). */
  constructor(private readonly label: string) {}

  /** Feeds the next chunk; resolves when the inspector can take more (decompression backpressure). */
  async write(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.decided) this.decide(chunk);
    if (this.gunzip) {
      if (!this.gunzip.write(chunk)) await waitDrain(this.gunzip);
      if (this.failure) throw this.failure;
    } else this.feedTar(chunk);
  }

  /**
   * Ends the stream and returns the box's metadata, or throws an InputError saying why it is not
   * a box. A provider or architecture it was published as must agree with its metadata.json.
   */
  async end(expectedProvider?: string, expectedArchitecture?: string): Promise<BoxInfo> {
    if (this.failure) throw this.failure;
    if (!this.decided) throw this.error("the file is empty");
    if (this.gunzip) {
      const gz = this.gunzip;
      await new Promise<void>((resolve, reject) => {
        gz.once("end", resolve);
        gz.once("error", reject);
        gz.end();
        gz.resume();
      }).catch((err: unknown) => {
        throw this.failure ?? this.error(`corrupt gzip data (${(err as Error).message})`);
      });
      if (this.failure) throw this.failure;
    }
    try {
      this.tar.finish();
      this.members.finish();
    } catch (err) {
      if (!(err instanceof TarFormatError || err instanceof UnsafeMemberError)) throw err;
      throw this.error(err.message);
    }
    const metadata = this.parseMetadata();
    if (expectedProvider !== undefined && metadata.provider !== expectedProvider) {
      throw this.error(`its metadata.json says provider ${JSON.stringify(metadata.provider)}, but it was published as ${JSON.stringify(expectedProvider)}`);
    }
    const arch = expectedArchitecture === undefined ? undefined : (normalizeArchitecture(expectedArchitecture) ?? expectedArchitecture);
    if (arch !== undefined && metadata.architecture !== undefined && metadata.architecture !== arch) {
      throw this.error(`its metadata.json says architecture ${JSON.stringify(metadata.architecture)}, but it was published as ${JSON.stringify(arch)}`);
    }
    return { compression: this.compression, metadata, entries: this.tar.entryCount };
  }

  /** Stops decompression early (publish was aborted). */
  destroy(): void {
    this.gunzip?.destroy();
  }

  private decide(first: Buffer): void {
    this.decided = true;
    if (first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b) {
      this.compression = "gzip";
      const gz = createGunzip({ chunkSize: 256 * 1024 });
      gz.on("data", (c: Buffer) => this.feedTar(c));
      gz.on("error", (err) => {
        this.failure ??= this.error(`corrupt gzip data (${err.message})`);
      });
      this.gunzip = gz;
      return;
    }
    const other = otherCompression(first);
    if (other) throw (this.failure = this.error(`it is compressed with ${other}; homelab accepts boxes as tar or tar.gz`));
  }

  private feedTar(chunk: Buffer): void {
    if (this.failure) return;
    try {
      this.tar.push(chunk);
    } catch (err) {
      if (!(err instanceof TarFormatError || err instanceof UnsafeMemberError)) throw err;
      // Keep draining gunzip (its output is dropped) so a pending write() never waits forever.
      this.failure = this.error(err.message);
    }
  }

  private parseMetadata(): BoxMetadata {
    if (this.metadataText === undefined) throw this.error("it has no metadata.json at its top level");
    let raw: unknown;
    try {
      raw = JSON.parse(this.metadataText);
    } catch (err) {
      throw this.error(`metadata.json is not valid JSON (${(err as Error).message})`);
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw this.error("metadata.json is not a JSON object");
    const obj = raw as Record<string, unknown>;
    if (typeof obj.provider !== "string" || obj.provider === "") {
      throw this.error('metadata.json has no "provider" (expected e.g. {"provider":"libvirt","format":"qcow2",...})');
    }
    // The provider (and architecture) become part of file names and the catalog: check them here.
    if (!isProvider(obj.provider)) throw this.error(`metadata.json's provider ${JSON.stringify(obj.provider)} is not a provider name (${PROVIDER_RULE})`);
    let architecture: Architecture | undefined;
    if (obj.architecture !== undefined && obj.architecture !== null) {
      architecture = typeof obj.architecture === "string" ? normalizeArchitecture(obj.architecture) : undefined;
      if (architecture === undefined) throw this.error(`metadata.json's architecture ${JSON.stringify(obj.architecture)} is not ${ARCHITECTURE_RULE}`);
    }
    return {
      provider: obj.provider,
      ...(architecture === undefined ? {} : { architecture }),
      ...(typeof obj.format === "string" ? { format: obj.format } : {}),
      raw: obj,
    };
  }

  private error(why: string): InputError {
    return new InputError(`${this.label}: not a usable Vagrant box: ${why}`);
  }
}

function otherCompression(b: Buffer): string | undefined {
  if (b.subarray(0, 3).toString("latin1") === "BZh") return "bzip2";
  if (b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return "xz";
  if (b.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return "zstd";
  if (b.subarray(0, 4).toString("latin1") === "PK\x03\x04") return "zip";
  return undefined;
}

function waitDrain(gz: Gunzip): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      gz.off("drain", done);
      gz.off("error", done);
      resolve();
    };
    gz.once("drain", done);
    gz.once("error", done);
  });
}

/** Reads a box file once and returns its metadata; throws InputError when it is not a box. */
export async function inspectBox(file: string, expectedProvider?: string, expectedArchitecture?: string): Promise<BoxInfo> {
  const inspector = new BoxInspector(file);
  let stream;
  try {
    stream = createReadStream(file, { highWaterMark: 1 << 20 });
    for await (const chunk of stream) await inspector.write(chunk as Buffer);
  } catch (err) {
    inspector.destroy();
    stream?.destroy();
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new InputError(`${file}: no such file`);
    if ((err as NodeJS.ErrnoException).code === "EISDIR") throw new InputError(`${file}: is a directory, expected a .box file`);
    throw err;
  }
  return inspector.end(expectedProvider, expectedArchitecture);
}
