import type { Command } from "commander";
import { ACCELERATORS, validateFlags, type BuildFlags } from "./build-flags.js";
import { examples } from "./help.js";
import { CONFIG_HELP, DEFAULT_HELP, positiveInt } from "./options.js";

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
