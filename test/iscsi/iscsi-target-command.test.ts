import { describe, expect, it } from "vitest";
import { GuestScsi } from "../../src/guest/midlayer.js";
import { iscsiTarget } from "../../src/guest/userland/iscsi-target.js";

describe("the iscsi-target guest command's errors", () => {
  const scsi = new GuestScsi();
  it("names what is wrong and exits 1", async () => {
    expect(await iscsiTarget([], scsi)).toMatchObject({
      exitCode: 1,
      stderr: "iscsi-target: the guest has no SCSI devices to export\n",
    });
    expect(await iscsiTarget(["-p", "70000"], scsi)).toMatchObject({
      exitCode: 1,
      stderr: "iscsi-target: bad port '70000'\n",
    });
    expect((await iscsiTarget(["-n", "disk1"], scsi)).stderr).toMatch(/'disk1' is not an iSCSI name/);
    expect((await iscsiTarget(["--bogus"], scsi)).stderr).toBe("iscsi-target: unknown option '--bogus'\n");
    expect((await iscsiTarget(["/dev/sdq"], scsi)).exitCode).toBe(1);
    expect(await iscsiTarget(["--stop", "3999"], scsi)).toMatchObject({
      exitCode: 1,
      stderr: "iscsi-target: no target on port 3999\n",
    });
    expect(await iscsiTarget(["--list"], scsi)).toMatchObject({ exitCode: 0, stdout: "" });
  });
});
