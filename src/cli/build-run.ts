import { join } from "node:path";
import { buildBoxes, type BuildOutcome } from "../build/build.js";
import { createProgress, progressMode } from "../build/progress.js";
import { resolveConfig } from "../config/source.js";
import { PROVIDERS, type Config, type Provider } from "../config/schema.js";
import { InputError } from "../errors.js";
import type { AcceleratorChoice } from "../packer/accelerator.js";
import { CancelRequest, cancelOnSignals } from "../packer/cancel.js";
import type { BuildFlags } from "./build.js";
import { DEFAULT_CONFIG_FILE } from "./options.js";

/** `homelab build`: config → boxes (→ registry), with progress and clean cancellation. */
export async function runBuild(flags: BuildFlags): Promise<void> {
  const { config, origin } = await resolveConfig(flags.config, DEFAULT_CONFIG_FILE);
  const only = parseOnly(flags.only, config);
  const json = flags.json === true;
  // Progress goes to stderr for people; with --json, events go to stdout for programs.
  const out = json ? process.stdout : process.stderr;
  const progress = createProgress(progressMode({ json }, out), out);
  const say = (line: string) => progress.notice(line);

  if (flags.versionCheck) {
    const { driftWarnings } = await import("../versions/warnings.js");
    for (const line of await driftWarnings(config)) say(`warning: ${line}`);
  }

  const cancel = new CancelRequest();
  const stopListening = cancelOnSignals(cancel);
  cancel.onRequest((n) => say(n === 1 ? "stopping: Packer is cleaning up (Ctrl-C again to force)" : "forcing Packer to stop"));
  let outcome: BuildOutcome;
  try {
    outcome = await buildBoxes({
      config,
      origin,
      workDir: flags.workDir,
      ...(only === undefined ? {} : { only }),
      ...(flags.force ? { force: true } : {}),
      ...(flags.parallel === undefined ? {} : { parallel: flags.parallel }),
      accelerator: flags.accel as AcceleratorChoice,
      ...(flags.compressionLevel === undefined ? {} : { compressionLevel: flags.compressionLevel }),
      onEvent: (e) => progress.event(e),
      onNotice: say,
      cancel,
    });
  } finally {
    stopListening();
    progress.close();
  }

  const { record, dir, cached } = outcome;
  const summary = cached
    ? `${record.boxName} ${record.boxVersion}: cache hit (built ${record.endedAt}; --force rebuilds)`
    : `${record.boxName} ${record.boxVersion}: built in ${(record.durationMs / 1000).toFixed(0)} s`;
  if (json) {
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), kind: "result", cached, dir, record })}\n`);
  } else {
    process.stdout.write(`${summary}\n`);
    for (const box of record.boxes) process.stdout.write(`  ${box.provider}: ${join(dir, box.file)} (${box.size} bytes, sha256 ${box.sha256})\n`);
  }

  if (flags.publish) await publish(flags, config, outcome, say);
}

async function publish(flags: BuildFlags, config: Config, { record, dir }: BuildOutcome, say: (line: string) => void): Promise<void> {
  const { publishBox } = await import("../box/publish.js");
  const registry = flags.registry ?? process.env.HOMELAB_REGISTRY ?? "registry";
  for (const box of record.boxes) {
    const result = await publishBox({
      file: join(dir, box.file),
      name: record.boxName,
      version: flags.boxVersion ?? config.box.version,
      provider: box.provider,
      registry,
      ...(flags.token === undefined ? {} : { token: flags.token }),
    });
    say(`published ${result.box} ${result.version} (${result.provider}, ${result.architecture}) to ${registry}`);
  }
}

function parseOnly(only: string | undefined, config: Config): Provider[] | undefined {
  if (only === undefined) return undefined;
  const wanted = only.split(",").map((p) => p.trim()).filter(Boolean);
  for (const p of wanted) {
    if (!(PROVIDERS as readonly string[]).includes(p)) {
      throw new InputError(`--only: expected providers from ${PROVIDERS.join(", ")}, got ${JSON.stringify(p)}`);
    }
    if (!config.providers.includes(p as Provider)) {
      throw new InputError(`--only: ${p} is not among the config's providers (${config.providers.join(", ")})`);
    }
  }
  if (wanted.length === 0) throw new InputError("--only: expected at least one provider");
  return wanted as Provider[];
}
