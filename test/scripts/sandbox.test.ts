import { afterEach, describe, expect, it } from "vitest";
import { Sandbox } from "../support/sandbox.js";
import { needTool } from "../support/tools.js";

let sb: Sandbox | undefined;
afterEach(() => sb?.dispose());

// The script tests are only meaningful if the sandbox really isolates and the shims really win.
describe.skipIf(!(needTool("bwrap") && needTool("busybox")))("the script sandbox", () => {
  it("runs shims before BusyBox applets and logs their calls", async () => {
    sb = await Sandbox.create({ shims: { modprobe: "echo shimmed" } });
    sb.write("/etc/probe.sh", "modprobe overlay 'two words'\n");
    const r = await sb.exec(["/bb/sh", "/etc/probe.sh"]);
    expect(r.stdout).toBe("shimmed\n");
    expect(sb.calls()).toEqual(["modprobe overlay two words"]);
  });

  it("confines writes to the temporary root and uses BusyBox, not GNU, tools", async () => {
    sb = await Sandbox.create();
    sb.write("/etc/probe.sh", "echo hello >/etc/written; command -v sed; ls /usr/bin\n");
    const r = await sb.exec(["/bb/sh", "/etc/probe.sh"]);
    expect(r.stdout).toBe("/bb/sed\n"); // nothing of the host's /usr/bin
    expect(sb.read("/etc/written")).toBe("hello\n");
  });
});
