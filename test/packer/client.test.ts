import { execFileSync } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile, cp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CancelledError, InputError, JobError } from "../../src/errors.js";
import { buildArgs, selectionArgs } from "../../src/packer/args.js";
import { CancelRequest } from "../../src/packer/cancel.js";
import { bundleRequiresPlugins, PackerClient } from "../../src/packer/client.js";
import { findPacker } from "../../src/packer/locate.js";
import type { PackerEvent } from "../../src/packer/machine-readable.js";
import { parsePackerVersion } from "../../src/packer/version.js";
import { atLeast } from "../../src/semver.js";
import { needTool } from "../support/tools.js";

const NULL_TEMPLATE = fileURLToPath(new URL("../fixtures/packer/null-template", import.meta.url));
const E2E_TEMPLATE = fileURLToPath(new URL("../fixtures/packer/e2e-template", import.meta.url));

/** Processes whose command line contains `marker` (pgrep -f), excluding pgrep itself. */
function processesWith(marker: string): string[] {
  try {
    return execFileSync("pgrep", ["-af", marker], { encoding: "utf8" }).split("\n").filter((l) => l.trim() !== "" && !l.includes("pgrep"));
  } catch {
    return [];
  }
}

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "homelab-packer-client-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("arguments", () => {
  it("passes -only and -var as separate argv entries and refuses what could be read as flags", () => {
    expect(selectionArgs({ only: ["qemu.node", "*.x"], vars: { out_dir: "/tmp/a b,c", "x-y": "" } })).toEqual([
      "-only=qemu.node,*.x",
      "-var",
      "out_dir=/tmp/a b,c",
      "-var",
      "x-y=",
    ]);
    expect(() => selectionArgs({ only: ["a,b"] })).toThrow(InputError);
    expect(() => selectionArgs({ only: ["-force"] })).not.toThrow(); // a name, inside -only=...
    expect(() => selectionArgs({ vars: { "-force": "1" } })).toThrow(InputError);
    expect(() => selectionArgs({ vars: { "a=b": "1" } })).toThrow(InputError);
    expect(() => selectionArgs({ vars: { a: "two\nlines" } })).toThrow(InputError);
  });

  it("builds with machine-readable output, no colour, cleanup on error, and the bundle as '.'", () => {
    expect(buildArgs({ force: true, parallelBuilds: 2, only: ["qemu.a"] })).toEqual([
      "build", "-machine-readable", "-color=false", "-on-error=cleanup", "-force", "-parallel-builds=2", "-only=qemu.a", ".",
    ]);
    expect(() => buildArgs({ parallelBuilds: -1 })).toThrow(InputError);
  });
});

describe("version parsing", () => {
  it("reads the version line of old and new Packer releases", () => {
    expect(parsePackerVersion("Packer v1.6.6\n")?.text).toBe("1.6.6");
    const v = parsePackerVersion("Packer v1.11.2\n\nYour version of Packer is out of date!");
    expect(v && atLeast(v, 1, 7)).toBe(true);
    expect(parsePackerVersion("Packer v1.6.6") && atLeast(parsePackerVersion("Packer v1.6.6")!, 1, 7)).toBe(false);
    expect(parsePackerVersion("terraform v1.0.0")).toBeUndefined();
  });
});

describe("finding packer", () => {
  it("refuses a HOMELAB_PACKER that is not an executable file, naming the variable", async () => {
    await expect(findPacker({ HOMELAB_PACKER: join(scratch, "nope"), PATH: "/usr/bin" })).rejects.toThrow(/HOMELAB_PACKER=.*not an executable/);
  });

  it("says how to install packer when PATH has none", async () => {
    const err = await findPacker({ PATH: scratch }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).details.join("\n")).toMatch(/HOMELAB_PACKER/);
  });
});

describe("required_plugins detection", () => {
  it("sees a real block and ignores commented-out ones", async () => {
    const dir = await mkdtemp(join(scratch, "plugins-"));
    await writeFile(join(dir, "packer.pkr.hcl"), '# required_plugins {\n/* required_plugins { } */\npacker {\n}\n');
    expect(await bundleRequiresPlugins(dir)).toBe(false);
    await writeFile(join(dir, "packer.pkr.hcl"), 'packer {\n  required_plugins {\n    qemu = { version = ">= 1.0.0", source = "github.com/hashicorp/qemu" }\n  }\n}\n');
    expect(await bundleRequiresPlugins(dir)).toBe(true);
  });
});

describe.skipIf(!needTool("packer"))("PackerClient with the real packer", () => {
  let client: PackerClient;
  beforeAll(async () => {
    client = await PackerClient.locate();
  });

  it("finds packer on PATH and reads its version", async () => {
    expect(client.binary).toMatch(/\/packer$/);
    expect(client.version.text).toBe(parsePackerVersion(execFileSync(client.binary, ["version"], { encoding: "utf8" }))?.text);
  });

  it("honours HOMELAB_PACKER", async () => {
    const link = join(scratch, "my-packer");
    await writeFile(link, `#!/bin/sh\nexec ${client.binary} "$@"\n`);
    await chmod(link, 0o755);
    const other = await PackerClient.locate({ ...process.env, HOMELAB_PACKER: link });
    expect(other.binary).toBe(link);
    expect(other.version).toEqual(client.version);
  });

  it("does not run init for a bundle without required_plugins; refuses one with them on packer < 1.7", async () => {
    expect(await client.init(NULL_TEMPLATE)).toBe("not-needed");
    if (!atLeast(client.version, 1, 7)) {
      const dir = await mkdtemp(join(scratch, "needs-init-"));
      await writeFile(join(dir, "packer.pkr.hcl"), 'packer {\n  required_plugins {\n    qemu = { version = ">= 1.0.0", source = "github.com/hashicorp/qemu" }\n  }\n}\n');
      await expect(client.init(dir)).rejects.toThrow(/needs packer >= 1\.7/);
    }
  });

  it("validates a good template offline and quotes packer when it is bad", async () => {
    await client.validate(E2E_TEMPLATE, {
      vars: { base_image: "/nonexistent.qcow2", base_checksum: "sha256:" + "0".repeat(64), output_dir: scratch, vm_name: "v" },
    });
    const err = await client.validate(E2E_TEMPLATE, { vars: { output_dir: scratch } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobError);
    expect((err as JobError).message).toContain("packer validate failed");
    expect((err as JobError).details.join("\n")).toMatch(/base_image/);
  });

  it("streams events in order and writes the whole stream to the log", async () => {
    const events: PackerEvent[] = [];
    const logFile = join(scratch, "ok.log");
    const result = await client.build({ bundleDir: NULL_TEMPLATE, logFile, onEvent: (e) => events.push(e) });
    expect(result.artifacts).toMatchObject([{ target: "null.quick", index: 0, builderId: "fnoeding.null", files: [] }]);
    const ui = events.flatMap((e) => (e.kind === "ui" && e.build === "null.quick" ? [`${e.level}:${e.body}`] : []));
    const lines = ui.filter((l) => !l.startsWith("say:Running local shell script"));
    // The script's stdout lines keep their order. Its stderr line travels through a second pipe,
    // so where it lands among them is up to the scheduler: it must be there, before the build's
    // final say.
    expect(lines.filter((l) => !l.startsWith("error:"))).toEqual([
      "message:first line, with a comma",
      "message:last line",
      "say:Did not export anything. This is the null builder",
    ]);
    expect(lines.filter((l) => l.startsWith("error:"))).toEqual(["error:to stderr"]);
    expect(lines.indexOf("error:to stderr")).toBeLessThan(lines.length - 1);
    const log = await readFile(logFile, "utf8");
    expect(log).toContain(",ui,message,    null.quick: first line%!(PACKER_COMMA) with a comma\n");
    expect(log).toMatch(/,null.quick,artifact,0,end\n.*Did not export anything.*\n$/);
  });

  it("turns a failed build into a JobError quoting Packer's error lines and naming the log", async () => {
    const logFile = join(scratch, "fail.log");
    const err = await client.build({ bundleDir: NULL_TEMPLATE, logFile, vars: { exit_code: "3" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobError);
    const e = err as JobError;
    expect(e.message).toBe("packer build failed (exit 1)");
    expect(e.details[0]).toBe("null.quick: Script exited with non-zero exit status: 3.Allowed exit codes are: [0]");
    expect(e.details).toContain("==> null.quick: to stderr");
    expect(e.details.at(-1)).toBe(`full log: ${logFile}`);
    expect(await readFile(logFile, "utf8")).toContain(",null.quick,error,Script exited with non-zero exit status: 3.");
  });

  it("forwards one SIGINT on cancel, waits for Packer, and rejects as cancelled with nothing left running", async () => {
    const marker = `homelab-cancel-${process.pid}-${Date.now()}`;
    const cancel = new CancelRequest();
    const logFile = join(scratch, "cancel.log");
    const started = Date.now();
    let cancelledAt = 0;
    const err = await client
      .build({
        bundleDir: NULL_TEMPLATE,
        logFile,
        vars: { sleep_seconds: "60", marker },
        cancel,
        onEvent: (e) => {
          if (e.kind === "ui" && e.body === "first line, with a comma") {
            cancelledAt = Date.now();
            cancel.request();
          }
        },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as CancelledError).exitCode).toBe(130);
    expect(cancelledAt).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(processesWith(marker)).toEqual([]);
    // The SIGINT reached Packer's group: either Packer logged it before its step ended, or the step
    // (the shell, in the same group) died of it first and ended the build (exit status -1 is Go's
    // "killed by a signal"). Which one comes first is a race; on a loaded machine both happen.
    expect(await readFile(logFile, "utf8")).toMatch(/Cancelling build after receiving interrupt|Script exited with non-zero exit status: -1\./);
  });
});

describe("escalation when Packer does not stop", () => {
  it("a second cancel kills Packer's whole process group: no child survives", async () => {
    // A stand-in for a packer that ignores SIGINT and has a child (as packer has qemu): the
    // behaviour under test is homelab's process handling, which needs a process that misbehaves.
    const marker = `homelab-stuck-${process.pid}-${Date.now()}`;
    const fake = join(scratch, "stuck-packer");
    await writeFile(
      fake,
      `#!/bin/bash\ntrap '' INT\necho "1,,ui,say,==> x.y: started"\nbash -c 'trap "" INT; exec -a ${marker} sleep 300' &\nwait\n`,
    );
    await chmod(fake, 0o755);
    const dir = await mkdtemp(join(scratch, "bundle-"));
    await cp(join(NULL_TEMPLATE, "build.pkr.hcl"), join(dir, "build.pkr.hcl"));
    const cancel = new CancelRequest();
    const { runPackerBuild } = await import("../../src/packer/build-run.js");
    const promise = runPackerBuild({
      packer: fake,
      bundleDir: dir,
      logFile: join(scratch, "stuck.log"),
      cancel,
      killGraceMs: 500,
      onEvent: () => {
        cancel.request(); // SIGINT: ignored
        setTimeout(() => {
          expect(processesWith(marker).length).toBe(1);
          cancel.request(); // second request: SIGTERM to the group
        }, 300);
      },
    });
    const err = await promise.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as CancelledError).details[0]).toMatch(/killed/);
    expect(processesWith(marker)).toEqual([]);
  });
});

describe("processes Packer leaves behind", () => {
  it("are stopped after Packer exits, and the call does not hang on their open pipe", async () => {
    const marker = `homelab-stray-${process.pid}-${Date.now()}`;
    const fake = join(scratch, "leaky-packer");
    // Exits at once but leaves a child holding stdout, as a qemu orphaned by a crashed plugin would.
    await writeFile(fake, `#!/bin/bash\nbash -c 'exec -a ${marker} sleep 300' &\necho "1,,ui,say,==> x.y: done"\nexit 0\n`);
    await chmod(fake, 0o755);
    const { runPackerBuild } = await import("../../src/packer/build-run.js");
    const started = Date.now();
    const result = await runPackerBuild({ packer: fake, bundleDir: scratch, logFile: join(scratch, "leaky.log"), killGraceMs: 1_000 });
    expect(result.artifacts).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(processesWith(marker)).toEqual([]);
  });
});
