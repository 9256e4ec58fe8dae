import type { Command } from "commander";
import { parseVersion } from "../box/names.js";
import { InputError } from "../errors.js";
import { examples } from "./help.js";
import { CONFIG_HELP, DEFAULT_HELP, positiveInt } from "./options.js";

const ACCELERATORS = ["auto", "kvm", "tcg", "hvf"] as const;

export function register(program: Command): void {
  const build = program
    .command("build")
    .description(
      "Generate the bundle and run Packer to build the boxes. Each build lives in " +
        ".homelab/builds/<content-hash>/ (bundle/, logs/, build.json, boxes/); building the same " +
        "inputs again is a cache hit. Ctrl-C stops Packer cleanly (exit 130) and leaves no partial box.",
    )
    .option("-c, --config <file>", CONFIG_HELP)
    .option("--default", DEFAULT_HELP)
    .option("--only <providers>", "comma-separated providers to build (libvirt, virtualbox)")
    .option("--parallel <n>", "build at most N providers at once (Packer -parallel-builds)", positiveInt("--parallel"))
    .option("-f, --force", "rebuild even when a finished build of the same inputs exists")
    .option("--accel <mode>", `qemu acceleration: ${ACCELERATORS.join(", ")} (auto tries KVM, falls back to TCG)`, "auto")
    .option("--compression-level <n>", "gzip level of the boxes, 1-9 (default 6)", positiveInt("--compression-level"))
    .option("--work-dir <dir>", "homelab's state directory (default: .homelab beside the config)")
    .option("--json", "machine-readable progress: one JSON event per line on stdout")
    .option("--publish", "publish the built boxes to a registry")
    .option("--registry <dir|url>", "registry for --publish (default: $HOMELAB_REGISTRY, else ./registry)")
    .option("--box-version <x.y.z>", "box version for --publish (default: box.version in the config)")
    .option("--token <token>", "registry token for --publish over HTTP (default: $HOMELAB_REGISTRY_TOKEN)")
    .option("--no-version-check", "do not warn about pins that drift behind upstream")
    .action(async (opts: BuildFlags) => {
      const { runBuild } = await import("./build-run.js");
      await runBuild(validateFlags(opts));
    });
  examples(build, [
    "homelab build",
    "homelab build --only libvirt --accel tcg",
    "homelab build --publish --registry http://reg:8080 --box-version 1.2.0",
    "homelab build --json | jq -c 'select(.kind == \"result\")'",
  ]);
}

export interface BuildFlags {
  config?: string;
  default?: boolean;
  only?: string;
  parallel?: number;
  force?: boolean;
  accel: string;
  compressionLevel?: number;
  workDir?: string;
  json?: boolean;
  publish?: boolean;
  registry?: string;
  boxVersion?: string;
  token?: string;
  versionCheck: boolean;
}

/** Flag checks that need no config and no Packer: a mistake here costs no minutes. */
export function validateFlags(opts: BuildFlags, platform: NodeJS.Platform = process.platform): BuildFlags {
  if (!(ACCELERATORS as readonly string[]).includes(opts.accel)) {
    throw new InputError(`--accel: expected one of ${ACCELERATORS.join(", ")}, got ${JSON.stringify(opts.accel)}`);
  }
  if (opts.accel === "hvf" && platform !== "darwin") {
    throw new InputError(`--accel hvf: Hypervisor.framework exists only on macOS; on ${platform} use kvm, tcg, or auto (tries KVM, falls back to TCG)`);
  }
  if (opts.compressionLevel !== undefined && opts.compressionLevel > 9) {
    throw new InputError(`--compression-level: expected 1 to 9, got ${opts.compressionLevel}`);
  }
  if (!opts.publish && (opts.registry !== undefined || opts.boxVersion !== undefined || opts.token !== undefined)) {
    throw new InputError("--registry, --box-version and --token only make sense with --publish");
  }
  // The registry's own rule, checked now rather than after the build.
  if (opts.boxVersion !== undefined) parseVersion(opts.boxVersion, "--box-version");
  return opts;
}
