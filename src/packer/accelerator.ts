import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { InputError } from "../errors.js";

export type AcceleratorChoice = "auto" | "kvm" | "tcg" | "hvf";
export const ACCELERATOR_CHOICES: readonly AcceleratorChoice[] = ["auto", "kvm", "tcg", "hvf"];

/** What the qemu source block should say. */
export interface QemuAcceleration {
  /** Packer's qemu `accelerator` value. */
  readonly accelerator: "kvm" | "tcg" | "hvf";
  /** Extra `qemuargs` rows, e.g. `[["-cpu", "max"]]`. */
  readonly qemuargs: readonly (readonly string[])[];
  /** One line for the user when `auto` fell back (undefined when nothing to say). */
  readonly notice?: string;
}

/**
 * A 512-byte boot sector that writes 0x21 to the isa-debug-exit port (0x501), which makes qemu
 * exit with status (0x21 << 1) | 1 = 67. Reaching it means the firmware ran and the guest executed
 * code under the accelerator: on this project's machines /dev/kvm opens fine but `-cpu host`
 * aborts and guests die with "KVM internal error", so only running guest code proves KVM works.
 *
 *   ba 01 05   mov dx, 0x501
 *   b0 21      mov al, 0x21
 *   ee         out dx, al
 *   f4 eb fd   hlt; jmp hlt   (not reached)
 */
const PROBE_CODE = [0xba, 0x01, 0x05, 0xb0, 0x21, 0xee, 0xf4, 0xeb, 0xfd];
const PROBE_EXIT_CODE = 67;

function probeBootSector(): Uint8Array {
  const sector = new Uint8Array(512);
  sector.set(PROBE_CODE, 0);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

export interface ProbeResult {
  readonly usable: boolean;
  /** Why not, in qemu's own words when it said something. */
  readonly reason?: string;
  readonly elapsedMs: number;
}

export interface ProbeOptions {
  readonly qemuBinary?: string;
  /** KVM boots the probe in well under a second; a hang means a guest stuck in an internal error. */
  readonly timeoutMs?: number;
}

/** The CPU model each accelerator needs: the host's under KVM/HVF, the emulator's best under TCG. */
function cpuFor(accelerator: "kvm" | "tcg" | "hvf"): string {
  return accelerator === "tcg" ? "max" : "host";
}

/** Boots the probe sector under `accelerator` and reports whether guest code actually ran. */
export async function probeAccelerator(accelerator: "kvm" | "tcg" | "hvf", opts: ProbeOptions = {}): Promise<ProbeResult> {
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), "homelab-accel-"));
  try {
    const disk = join(dir, "probe.img");
    await writeFile(disk, probeBootSector());
    const result = await execa(
      opts.qemuBinary ?? "qemu-system-x86_64",
      [
        "-accel", accelerator,
        "-cpu", cpuFor(accelerator),
        "-machine", "pc",
        "-m", "16",
        "-nodefaults",
        "-display", "none",
        "-no-reboot",
        "-drive", `file=${disk},format=raw,if=ide`,
        "-device", "isa-debug-exit,iobase=0x501,iosize=0x04",
      ],
      { reject: false, stdin: "ignore", timeout: opts.timeoutMs ?? 10_000, killSignal: "SIGKILL", all: true },
    );
    const elapsedMs = Date.now() - started;
    if (result.exitCode === PROBE_EXIT_CODE) return { usable: true, elapsedMs };
    const said = (result.all ?? "").trim().split("\n").filter(Boolean).slice(0, 2).join("; ");
    const reason = result.timedOut
      ? `the probe guest did not finish within ${opts.timeoutMs ?? 10_000} ms${said ? ` (${said})` : ""}`
      : result.signal !== undefined
        ? `qemu was killed by ${result.signal}${said ? `: ${said}` : ""}`
        : result.exitCode === undefined
          ? `could not run qemu: ${result.shortMessage}`
          : said || `qemu exited with ${result.exitCode}`;
    return { usable: false, reason, elapsedMs };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function forced(accelerator: "kvm" | "tcg" | "hvf"): QemuAcceleration {
  return { accelerator, qemuargs: [["-cpu", cpuFor(accelerator)]] };
}

/**
 * Resolves the user's choice to what the qemu source uses. `auto` tries KVM for real and falls
 * back to TCG with a notice; forced choices are taken as they are (the user knows their host).
 */
export async function chooseAcceleration(choice: AcceleratorChoice, opts: ProbeOptions = {}): Promise<QemuAcceleration> {
  switch (choice) {
    case "kvm":
    case "tcg":
    case "hvf":
      return forced(choice);
    case "auto": {
      const kvm = await probeAccelerator("kvm", opts);
      if (kvm.usable) return forced("kvm");
      return { ...forced("tcg"), notice: `KVM is not usable here (${kvm.reason}); building with TCG (software emulation, slower)` };
    }
    default:
      throw new InputError(`unknown accelerator '${String(choice)}'`, {
        details: [`expected one of: ${ACCELERATOR_CHOICES.join(", ")}`],
      });
  }
}
