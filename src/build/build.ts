import { mkdir, readdir, rm } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import type { Config, Provider } from "../config/schema.js";
import { BUILD_NAME } from "../contributors/pipeline.js";
import { JobError } from "../errors.js";
import { writeFileAtomic } from "../fs/atomic-write.js";
import { renderConfig } from "../generate.js";
import { boxBaseName, boxName } from "../naming.js";
import { chooseAcceleration, type AcceleratorChoice } from "../packer/accelerator.js";
import type { CancelRequest } from "../packer/cancel.js";
import { PackerClient } from "../packer/client.js";
import type { PackerEvent } from "../packer/machine-readable.js";
import { withStagedDir } from "../packer/staged-output.js";
import { writeBundle } from "../packer/write-bundle.js";
import { VERSION } from "../version.js";
import { checkRecord, hashFile, RECORD_FILE, type BuildRecord, type BuiltBox } from "./record.js";

export interface BuildRequest {
  config: Config;
  /** Where the config came from (recorded). */
  origin: string;
  /** homelab's state directory; builds live in <workDir>/builds/<hash>/. */
  workDir: string;
  /** Providers to build (default: all in the config). */
  only?: readonly Provider[];
  /** Rebuild even when a finished build of the same inputs exists. */
  force?: boolean;
  /** Packer's -parallel-builds. */
  parallel?: number;
  accelerator?: AcceleratorChoice;
  /** gzip level of the boxes (the bundle's default when undefined). */
  compressionLevel?: number;
  onEvent?: (event: PackerEvent) => void;
  onNotice?: (line: string) => void;
  cancel?: CancelRequest;
}

export interface BuildOutcome {
  record: BuildRecord;
  dir: string;
  cached: boolean;
}

/** Packer's name for a provider's builder (`homelab.qemu.alpine`), as `-only` takes it. */
function builderFor(provider: Provider, config: Config): string {
  return `${BUILD_NAME}.${provider === "libvirt" ? "qemu" : "virtualbox-iso"}.${config.family}`;
}

/**
 * Builds the boxes for a config: render the bundle, and unless a finished build of the very same
 * bundle exists, run Packer into a staging directory that becomes `boxes/` only when every box is
 * there. The bundle's content hash names the build, so any change to the config, the scripts or
 * homelab's rendering is a new build, and an unchanged one is a cache hit.
 */
export async function buildBoxes(req: BuildRequest): Promise<BuildOutcome> {
  const { config } = req;
  const providers = req.only ?? config.providers;
  const packer = await PackerClient.locate();
  const rendered = renderConfig(config, { packerVersion: packer.version.text });
  const dir = resolve(req.workDir, "builds", rendered.hash);

  if (!req.force) {
    const check = await checkRecord(dir, providers);
    if ("record" in check) return { record: check.record, dir, cached: true };
    if (check.reason !== undefined) req.onNotice?.(`not a cache hit: ${check.reason}; rebuilding`);
  }

  await mkdir(dir, { recursive: true });
  const bundleDir = join(dir, "bundle");
  await writeBundle(rendered, bundleDir);
  await packer.init(bundleDir);

  const vars: Record<string, string> = { vm_output_dir: join(dir, "vm") };
  if (req.compressionLevel !== undefined) vars.box_compression_level = String(req.compressionLevel);
  let accelerator: string | undefined;
  if (providers.includes("libvirt")) {
    const accel = await chooseAcceleration(req.accelerator ?? "auto");
    if (accel.notice) req.onNotice?.(accel.notice);
    accelerator = accel.accelerator;
    vars.accelerator = accel.accelerator;
    const cpu = accel.qemuargs.find((row) => row[0] === "-cpu")?.[1];
    vars.cpu_model = cpu ?? "host";
  }

  const startedAt = new Date();
  // One log per attempt: a failed or cancelled rebuild must not overwrite the log of the build
  // whose boxes are still in boxes/ (build.json names that one).
  await mkdir(join(dir, "logs"), { recursive: true });
  const logFile = join(dir, "logs", `${startedAt.toISOString().replace(/[:.]/g, "-")}.log`);
  const boxesDir = join(dir, "boxes");
  try {
    const boxes = await withStagedDir(boxesDir, async (staging) => {
      await packer.build({
        bundleDir,
        logFile,
        only: providers.map((p) => builderFor(p, config)),
        vars: { ...vars, output_dir: staging },
        force: true,
        ...(req.parallel === undefined ? {} : { parallelBuilds: req.parallel }),
        ...(req.onEvent === undefined ? {} : { onEvent: req.onEvent }),
        ...(req.cancel === undefined ? {} : { cancel: req.cancel }),
        // Packer 1.6 keeps downloads (ISOs) in ./packer_cache; share one cache across builds.
        env: { PACKER_CACHE_DIR: resolve(req.workDir, "packer_cache") },
      });
      return collectBoxes(staging, config, providers);
    });
    const endedAt = new Date();
    const record: BuildRecord = {
      hash: rendered.hash,
      boxName: boxName(config),
      boxVersion: config.box.version,
      config: req.origin,
      homelab: VERSION,
      packer: { binary: packer.binary, version: packer.version.text },
      ...(accelerator === undefined ? {} : { accelerator }),
      startedAt: startedAt.toISOString(),
      endedAt: endedAt.toISOString(),
      durationMs: endedAt.getTime() - startedAt.getTime(),
      // The staging directory became boxes/: record the final paths.
      boxes: boxes.map((b) => ({ ...b, file: join("boxes", b.file) })),
      log: relative(dir, logFile),
    };
    await writeFileAtomic(join(dir, RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
    return { record, dir, cached: false };
  } finally {
    // The build VM's scratch disk is large and useless once the box exists (or failed).
    await rm(join(dir, "vm"), { recursive: true, force: true });
  }
}

/** The boxes Packer wrote, one per provider, hashed. */
async function collectBoxes(staging: string, config: Config, providers: readonly Provider[]): Promise<BuiltBox[]> {
  const names = await readdir(staging);
  const boxes: BuiltBox[] = [];
  for (const provider of providers) {
    const file = `${boxBaseName(config)}-${provider}.box`;
    if (!names.includes(file)) {
      throw new JobError(`packer finished but ${file} is not in its output (found: ${names.join(", ") || "nothing"})`);
    }
    boxes.push({ provider, file, ...(await hashFile(join(staging, file))) });
  }
  return boxes;
}
