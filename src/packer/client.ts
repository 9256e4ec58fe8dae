import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { InputError, JobError } from "../errors.js";
import { selectionArgs } from "./args.js";
import { runPackerBuild, type BuildOptions, type BuildResult } from "./build-run.js";
import { findPacker, packerEnv, queryPackerVersion } from "./locate.js";
import { supportsPlugins, type SemVer } from "./version.js";

export type { BuildOptions, BuildResult } from "./build-run.js";

export { packerEnv };

/** Strips HCL comments so a commented-out block does not count. Strings are left alone. */
function withoutComments(hcl: string): string {
  return hcl.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])(#|\/\/).*$/gm, "$1");
}

/** Whether any `*.pkr.hcl` file in the bundle declares `required_plugins`. */
export async function bundleRequiresPlugins(bundleDir: string): Promise<boolean> {
  const names = (await readdir(bundleDir)).filter((n) => n.endsWith(".pkr.hcl")).sort();
  for (const name of names) {
    const text = withoutComments(await readFile(join(bundleDir, name), "utf8"));
    if (/\brequired_plugins\s*\{/.test(text)) return true;
  }
  return false;
}

export class PackerClient {
  private constructor(
    /** Absolute path of the packer binary. */
    readonly binary: string,
    readonly version: SemVer,
  ) {}

  /** Finds packer (HOMELAB_PACKER, else PATH) and reads its version. */
  static async locate(env: NodeJS.ProcessEnv = process.env): Promise<PackerClient> {
    const binary = await findPacker(env);
    const { version, output } = await queryPackerVersion(binary);
    if (!version) {
      throw new JobError(`could not read the version of ${binary}`, {
        details: [`\`${binary} version\` printed: ${output.trim().slice(0, 300)}`],
      });
    }
    return new PackerClient(binary, version);
  }

  /**
   * `packer init` when the bundle declares required_plugins. Packer before 1.7 has neither the
   * block nor the command, so such a bundle cannot be built with it at all.
   */
  async init(bundleDir: string): Promise<"ran" | "not-needed"> {
    if (!(await bundleRequiresPlugins(bundleDir))) return "not-needed";
    if (!supportsPlugins(this.version)) {
      throw new InputError(`${bundleDir} declares required_plugins, which needs packer >= 1.7; ${this.binary} is ${this.version.text}`, {
        details: ["install a newer packer (or set HOMELAB_PACKER to one)"],
      });
    }
    await this.runChecked(bundleDir, ["init", "."], "packer init");
    return "ran";
  }

  /** `packer validate`; a failure quotes what packer said. */
  async validate(bundleDir: string, opts: { only?: readonly string[]; vars?: Readonly<Record<string, string>> } = {}): Promise<void> {
    await this.runChecked(bundleDir, ["validate", ...selectionArgs(opts), "."], "packer validate");
  }

  /** `packer build -machine-readable`; see runPackerBuild for events, logs and cancellation. */
  async build(opts: Omit<BuildOptions, "packer">): Promise<BuildResult> {
    return runPackerBuild({ ...opts, packer: this.binary });
  }

  private async runChecked(cwd: string, args: string[], what: string): Promise<void> {
    const result = await execa(this.binary, args, { cwd, env: packerEnv(), reject: false, stdin: "ignore", all: true });
    if (result.exitCode === 0) return;
    const said = (result.all ?? "").split("\n").map((l) => l.trimEnd()).filter((l) => l.trim() !== "");
    throw new JobError(`${what} failed in ${cwd} (${result.exitCode === undefined ? result.shortMessage : `exit ${result.exitCode}`})`, {
      details: said.slice(-30),
    });
  }
}
