import { describe, expect, it } from "vitest";
import { directExec } from "../../../src/guest/direct.js";
import { runMtx } from "../../../src/guest/userland/mtx.js";
import { autoloader, cdb } from "../../targets/_support/tape.js";
import { clearUas, execSync, I2 } from "../../targets/_support/task.js";
import { readyExec } from "./_support.js";

const EIGHT = Array.from({ length: 8 }, (_, i) => `A0000${i + 1}L6`);
const tag = (b: string) => b.padEnd(32, " ");

async function setup() {
  const a = autoloader(EIGHT);
  const exec = await readyExec(a.changer);
  const mtx = (...argv: string[]) => runMtx(argv, exec, { device: "/dev/sch0" });
  return { ...a, exec, mtx };
}

/** mtx status lines of the eight-slot autoloader, with `drive` describing the drive. */
function statusText(drive: string, slots: Array<string | null>): string {
  const lines = [
    "  Storage Changer /dev/sch0:1 Drives, 9 Slots ( 1 Import/Export )",
    `Data Transfer Element 0:${drive}`,
  ];
  slots.forEach((b, i) => {
    const name = i === 8 ? `${i + 1} IMPORT/EXPORT` : `${i + 1}`;
    lines.push(`      Storage Element ${name}:${b ? `Full :VolumeTag=${tag(b)}` : "Empty"}`);
  });
  return `${lines.join("\n")}\n`;
}

describe("mtx", () => {
  it("status, in mtx's format: slots counted with the mail slot, volume tags as padded by the changer", async () => {
    const { mtx } = await setup();
    const r = await mtx("status");
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(statusText("Empty", [...EIGHT, null]));
    expect(r.data.slots).toHaveLength(9);
    expect(r.data.slots[8]).toMatchObject({ number: 9, address: 10, importExport: true, full: false });
  });

  it("load and unload: the drive loads the cartridge; unload puts it back where it came from", async () => {
    const { mtx, drive } = await setup();
    expect(await mtx("load", "2")).toMatchObject({
      exitCode: 0,
      stdout: "Loading media from Storage Element 2 into drive 0...done\n",
    });
    expect(drive.cartridge?.barcode).toBe("A00002L6");
    expect((await mtx("status")).stdout).toBe(
      statusText(`Full (Storage Element 2 Loaded):VolumeTag = ${tag("A00002L6")}`, [
        "A00001L6",
        null,
        ...EIGHT.slice(2),
        null,
      ]),
    );
    expect(await mtx("load", "3")).toMatchObject({
      exitCode: 1,
      stderr: "mtx: Drive 0 Full (Storage Element 2 loaded)\n",
    });
    expect(await mtx("unload")).toMatchObject({
      exitCode: 0,
      stdout: "Unloading drive 0 into Storage Element 2...done\n",
    });
    expect(drive.state).toBe("empty");
    // Several commands on one line, as mtx allows; unload to another slot.
    const r = await mtx("load", "1", "0", "transfer", "2", "9", "unload", "2", "0", "status");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(
      "Loading media from Storage Element 1 into drive 0...done\n" +
        "Unloading drive 0 into Storage Element 2...done\n" +
        statusText("Empty", [null, "A00001L6", ...EIGHT.slice(2), "A00002L6"]),
    );
  });

  it("errors: empty source, full destination, drive empty, bad arguments", async () => {
    const { mtx } = await setup();
    expect(await mtx("transfer", "1", "2")).toMatchObject({
      exitCode: 1,
      stderr: "mtx: Destination Element Address 1001 is Already Full\n",
    });
    await mtx("transfer", "1", "9");
    expect(await mtx("load", "1")).toMatchObject({
      exitCode: 1,
      stderr: "mtx: Source Element Address 1000 is Empty\n",
    });
    expect(await mtx("unload", "3")).toMatchObject({
      exitCode: 1,
      stderr: "mtx: Data Transfer Element 0 is Empty\n",
    });
    expect(await mtx("load")).toMatchObject({ exitCode: 1, stderr: "mtx: No source specified\n" });
    expect(await mtx("load", "12")).toMatchObject({
      exitCode: 1,
      stderr: "mtx: Invalid <storage-element-number> argument '12' to 'load' command\n",
    });
    expect(await mtx("load", "2", "1")).toMatchObject({
      exitCode: 1,
      stderr: "mtx: illegal <drive-number> argument '1' to 'load' command\n",
    });
  });

  it("a drive under PREVENT: mtx prints the request sense and the failed move", async () => {
    const { mtx, drive } = await setup();
    await mtx("load", "1");
    clearUas(drive, I2);
    execSync(drive, cdb.prevent(1), { initiator: I2 });
    const r = await mtx("unload");
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("Unloading drive 0 into Storage Element 1...");
    expect(r.stderr).toBe(
      [
        "mtx: Request Sense: Long Report=yes",
        "mtx: Request Sense: Valid Residual=no",
        "mtx: Request Sense: Error Code=70 (Current)",
        "mtx: Request Sense: Sense Key=Illegal Request",
        "mtx: Request Sense: FileMark=no",
        "mtx: Request Sense: EOM=no",
        "mtx: Request Sense: ILI=no",
        "mtx: Request Sense: Additional Sense Code = 53",
        "mtx: Request Sense: Additional Sense Qualifier = 02",
        "mtx: Request Sense: BPV=no",
        "mtx: Request Sense: Error in CDB=no",
        "mtx: Request Sense: SKSV=no",
        "mtx: MOVE MEDIUM from Element Address 500 to 1000 Failed",
        "",
      ].join("\n"),
    );
  });

  it("a pending unit attention fails the mode sense: mtx reports it and carries on with its defaults", async () => {
    const { changer } = autoloader(EIGHT);
    const r = await runMtx(["status"], directExec(changer), { device: "/dev/sch0" });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain("mtx: Request Sense: Sense Key=Unit Attention\n");
    expect(r.stderr).toContain("mtx: Request Sense: Additional Sense Code = 29\n");
    expect(r.stderr.endsWith("Mode sense (0x1A) for Page 0x1D failed\n")).toBe(true);
    // Without page 1Dh mtx does not know the mail slot: 8 slots, 0 import/export.
    expect(r.stdout.split("\n")[0]).toBe("  Storage Changer /dev/sch0:1 Drives, 8 Slots ( 0 Import/Export )");
  });

  it("inventory, inquiry, nobarcode, unknown commands", async () => {
    const { mtx } = await setup();
    expect(await mtx("inventory")).toMatchObject({ exitCode: 0, stdout: "" });
    expect((await mtx("inquiry")).stdout).toBe(
      "Product Type: Medium Changer\nVendor ID: 'HP      '\nProduct ID: '1x8 G2 AUTOLDR  '\nRevision: '1.70'\nAttached Changer API: No\n",
    );
    const plain = await mtx("nobarcode", "status");
    expect(plain.stdout.split("\n")[2]).toBe("      Storage Element 1:Full ");
    expect((await mtx("spin")).exitCode).toBe(1);
  });
});
