import { join, relative } from "node:path";
import { buildBoxes, type BuildOutcome } from "../builder/build.js";
import { createProgress, progressMode } from "./build-progress.js";
import { EMBEDDED_ORIGIN } from "../config/source.js";
import { PROVIDERS, type Config, type Provider } from "../config/schema.js";
import { CancelledError, HomelabError, InputError } from "../errors.js";
import type { AcceleratorChoice } from "../packer/accelerator.js";
import { CancelRequest, cancelOnSignals } from "../packer/cancel.js";
import type { BuildFlags } from "./build-flags.js";
import { paint } from "./colour.js";
import { cliMessage } from "./error-text.js";
import { formatSize } from "./format.js";
import { projectConfig } from "./options.js";

/**
 * `homelab build`: config → boxes (→ registry), with progress and clean cancellation. With
 * --json, the last line on stdout is always a `result` event, also when the build failed or was
 * cancelled (`ok: false`, the exit code and the message), so a program never waits for nothing.
 */
export async function runBuild(flags: BuildFlags): Promise<void> {
  const json = flags.json === true;
  try {
    await buildAndReport(flags);
  } catch (err) {
    if (json) process.stdout.write(`${JSON.stringify(failureResult(err))}\n`);
    throw err;
  }
}

/** The final --json event of a build that did not finish. */
export function failureResult(err: unknown, now = new Date()): Record<string, unknown> {
  const known = err instanceof HomelabError;
  return {
    time: now.toISOString(),
    kind: "result",
    ok: false,
    cancelled: err instanceof CancelledError,
    exitCode: known ? err.exitCode : 1,
    error: known ? cliMessage(err) : err instanceof Error ? err.message : String(err),
    details: known ? err.details : [],
  };
}

async function buildAndReport(flags: BuildFlags): Promise<void> {
  const { config, origin, projectDir } = await projectConfig(flags);
  const only = parseOnly(flags.only, config);
  const json = flags.json === true;
  // Progress goes to stderr for people; with --json, events go to stdout for programs.
  const out = json ? process.stdout : process.stderr;
  const progress = createProgress(progressMode({ json }, out), out);
  const colours = paint(out);
  const say = (line: string) => progress.notice(line);
  const warn = (line: string) => progress.notice(json ? `warning: ${line}` : colours.yellow(`warning: ${line}`));
  if (origin === EMBEDDED_ORIGIN) say("using the embedded default config (--default)");
  // The state lives with the project, wherever in it homelab runs (as .git does).
  const workDir = flags.workDir ?? join(projectDir, ".homelab");

  if (flags.versionCheck) {
    const { driftWarnings } = await import("../versions/warnings.js");
    for (const line of await driftWarnings(config)) warn(line);
  }

  const cancel = new CancelRequest();
  const stopListening = cancelOnSignals(cancel);
  cancel.onRequest((n) => say(n === 1 ? "stopping: Packer is cleaning up (Ctrl-C again to force)" : "forcing Packer to stop"));
  let outcome: BuildOutcome;
  try {
    outcome = await buildBoxes({
      config,
      origin,
      workDir,
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

  // The live view is closed: what follows is plain lines (JSON lines with --json).
  const after = (text: string): void => {
    if (json) process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), kind: "notice", text })}\n`);
    else process.stderr.write(`${text}\n`);
  };
  if (!json) printSummary(outcome);
  if (flags.publish) await publish(flags, config, outcome, after);
  if (json) process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), kind: "result", ok: true, ...outcome })}\n`);
}

/** What was built and where: final box paths (as typed from here), sizes, and the logs. */
function printSummary({ record, dir, cached }: BuildOutcome): void {
  const shown = (path: string) => relative(process.cwd(), path) || ".";
  const green = paint(process.stdout).green;
  const summary = cached
    ? `${record.boxName} ${record.boxVersion}: cache hit (built ${record.endedAt}; --force rebuilds)`
    : `${record.boxName} ${record.boxVersion}: built in ${(record.durationMs / 1000).toFixed(0)} s`;
  process.stdout.write(`${green(summary)}\n`);
  for (const box of record.boxes) {
    process.stdout.write(`  ${box.provider}: ${shown(join(dir, box.file))} (${formatSize(box.size)}, sha256 ${box.sha256})\n`);
  }
  process.stdout.write(`  log: ${shown(join(dir, record.plainLog ?? record.log))}\n`);
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
