import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.js";
import { chooseAcceleration, probeAccelerator, type AcceleratorChoice } from "../../src/packer/accelerator.js";
import { needTool } from "../support/tools.js";

describe("forced accelerators", () => {
  it("are taken as they are, with the CPU model each needs", async () => {
    expect(await chooseAcceleration("tcg")).toEqual({ accelerator: "tcg", qemuargs: [["-cpu", "max"]] });
    expect(await chooseAcceleration("kvm")).toEqual({ accelerator: "kvm", qemuargs: [["-cpu", "host"]] });
    expect(await chooseAcceleration("hvf")).toEqual({ accelerator: "hvf", qemuargs: [["-cpu", "host"]] });
    await expect(chooseAcceleration("xen" as AcceleratorChoice)).rejects.toBeInstanceOf(InputError);
  });
});

describe("the probe", () => {
  it("reports a qemu that cannot run at all as unusable, with the reason", async () => {
    const r = await probeAccelerator("tcg", { qemuBinary: "/nonexistent/qemu-system-x86_64" });
    expect(r.usable).toBe(false);
    expect(r.reason).toMatch(/could not run qemu/);
  });
});

describe.skipIf(!needTool("qemu-system-x86_64"))("the probe with the real qemu", () => {
  it("boots its sector under TCG: guest code ran and reached the exit port", async () => {
    const r = await probeAccelerator("tcg");
    expect(r).toMatchObject({ usable: true });
    expect(r.elapsedMs).toBeLessThan(10_000);
  });

  it("auto picks KVM exactly when the KVM probe boots, else TCG with a one-line notice", async () => {
    const kvm = await probeAccelerator("kvm");
    const auto = await chooseAcceleration("auto");
    if (kvm.usable) {
      expect(auto).toEqual({ accelerator: "kvm", qemuargs: [["-cpu", "host"]] });
    } else {
      // This project's machines: /dev/kvm exists but KVM aborts (nested kvm-pvm).
      expect(auto.accelerator).toBe("tcg");
      expect(auto.qemuargs).toEqual([["-cpu", "max"]]);
      expect(auto.notice).toMatch(/^KVM is not usable here \(.+\); building with TCG/);
      expect(auto.notice).not.toContain("\n");
    }
  });
});
