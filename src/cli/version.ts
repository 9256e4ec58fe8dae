import type { Command } from "commander";
import { VERSION } from "../version.js";
import { examples } from "./help.js";

export function register(program: Command): void {
  const version = program
    .command("version")
    .description("Print homelab's version, and the Node.js and Packer it runs with (for bug reports).")
    .action(async () => {
      const { findPacker, queryPackerVersion } = await import("../packer/locate.js");
      const packer = await findPacker().then(
        async (binary) => {
          const { version } = await queryPackerVersion(binary);
          return `${version?.text ?? "unknown version"} (${binary})`;
        },
        () => "not found (PATH, HOMELAB_PACKER)",
      );
      process.stdout.write(`homelab ${VERSION}\nnode ${process.version}\npacker ${packer}\n`);
    });
  examples(version, ["homelab version", "homelab --version   # just the number, also -v"]);
}
