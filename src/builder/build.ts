import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
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
import { writeBundle } from "../bundle/write-bundle.js";
import { VERSION } from "../version.js";
import { checkBaseImage, checkBoxVersion } from "./preflight.js";
import { PlainProgress } from "./progress.js";
import { ATTEMPT_PREFIX, installBoxes, sweepDeadAttempts } from "./install-boxes.js";
import { checkRecord, hashFile, RECORD_FILE, type BuildRecord, type BuiltBox } from "./record.js";
import { sweepPartialBoxes } from "./sweep-partials.js";

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
 * bundle exists, run Packer into a scratch directory of this attempt and move the boxes into
 * `boxes/` only when every one is there. homelab replaces only what it wrote in the build
 * directory (bundle/ through its marker, boxes/ through build.json); anything else stays. The bundle's content hash names the build, so any change to the config, the scripts or
 * homelab's rendering is a new build, and an unchanged one is a cache hit.
 */
export async function buildBoxes(req: BuildRequest): Promise<BuildOutcome> {
  const { config } = req;
  await checkBoxVersion(config, req.origin);
  const providers = req.only ?? config.providers;
  const packer = await PackerClient.locate();
  const rendered = renderConfig(config, { packerVersion: packer.version.text });
  const dir = resolve(req.workDir, "builds", rendered.hash);

  if (!req.force) {
    const check = await checkRecord(dir, providers);
    if ("record" in check) return { record: check.record, dir, cached: true };
    if (check.reason !== undefined) req.onNotice?.(`not a cache hit: ${check.reason}; rebuilding`);
  }

  await checkBaseImage(config, req.origin, { ...(req.onNotice === undefined ? {} : { onNotice: req.onNotice }) });

  await mkdir(dir, { recursive: true });
  // A build killed with SIGKILL leaves its staging directory behind: clean it before a new one.
  for (const name of await sweepPartialBoxes(dir)) req.onNotice?.(`cleaned up ${name}, left by a build that was killed`);
  const bundleDir = join(dir, "bundle");
  await writeBundle(rendered, bundleDir);
  await packer.init(bundleDir);

  const vars: Record<string, string> = {};
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
  const logName = startedAt.toISOString().replace(/[:.]/g, "-");
  // Packer's machine-readable stream, as it came (for programs), and beside it the same build as
  // a person reads it: decoded, one timestamped line per line of output.
  const logFile = join(dir, "logs", `${logName}.log`);
  const plainLogFile = join(dir, "logs", `${logName}${PLAIN_LOG_SUFFIX}`);
  const plainLog = createWriteStream(plainLogFile, { flags: "w" });
  const plain = new PlainProgress(plainLog);
  const boxesDir = join(dir, "boxes");
  // A fresh, empty directory per attempt holds the build VM's disk and the staged boxes; removed
  // as a whole afterwards (it holds only what Packer wrote for this attempt).
  await sweepDeadAttempts(dir);
  const attempt = await mkdtemp(join(dir, `${ATTEMPT_PREFIX}${process.pid}-`));
  const staging = join(attempt, "out");
  try {
    await mkdir(staging);
    // Packer only knows the staging directory; its boxes are moved into boxes/ when every one is
    // there: show the paths where the boxes will be.
    const onEvent = (event: PackerEvent): void => {
      const shown = withFinalPaths(event, staging, boxesDir);
      plain.event(shown);
      req.onEvent?.(shown);
    };
    await packer.build({
      bundleDir,
      logFile,
      readableLogFile: plainLogFile,
      only: providers.map((p) => builderFor(p, config)),
      vars: { ...vars, output_dir: staging, vm_output_dir: join(attempt, "vm") },
      force: true,
      ...(req.parallel === undefined ? {} : { parallelBuilds: req.parallel }),
      onEvent,
      ...(req.cancel === undefined ? {} : { cancel: req.cancel }),
      // Packer 1.6 keeps downloads (ISOs) in ./packer_cache; share one cache across builds.
      env: { PACKER_CACHE_DIR: resolve(req.workDir, "packer_cache") },
    });
    const boxes = await installBoxes(dir, staging, await collectBoxes(staging, config, providers));
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
      boxes,
      log: relative(dir, logFile),
      plainLog: relative(dir, plainLogFile),
    };
    await writeFileAtomic(join(dir, RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
    return { record, dir, cached: false };
  } finally {
    await new Promise<void>((done) => plainLog.end(() => done()));
    // The build VM's scratch disk is large and useless once the box exists (or failed).
    await rm(attempt, { recursive: true, force: true });
  }
}

/** Suffix of the human-readable log beside Packer's machine-readable `<time>.log`. */
export const PLAIN_LOG_SUFFIX = ".plain.log";

/** The event with every mention of the staging directory replaced by the final one. */
export function withFinalPaths(event: PackerEvent, staging: string, final: string): PackerEvent {
  const swap = (text: string): string => text.replaceAll(staging, final);
  switch (event.kind) {
    case "ui":
      return event.text.includes(staging) ? { ...event, text: swap(event.text), body: swap(event.body) } : event;
    case "artifact": {
      const a = event.artifact;
      return {
        ...event,
        artifact: { ...a, files: a.files.map(swap), ...(a.description === undefined ? {} : { description: swap(a.description) }) },
      };
    }
    default:
      return event;
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
