import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { decodeChangerState } from "../../../src/targets/smc/changer-state.js";
import { ElementMap } from "../../../src/targets/smc/elements.js";
import { MediumChanger } from "../../../src/targets/smc/medium-changer.js";
import { FileCartridgeLibrary } from "../../../src/targets/ssc/cartridge-library.js";
import { TapeDrive } from "../../../src/targets/ssc/tape-drive.js";
import { CHANGER_INFO, cdb, fixedSense, pattern, senseHex, TAPE_INFO } from "../_support/tape.js";
import { clearUas, exec } from "../_support/task.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pvscsi-changer-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const move = (src: number, dst: number) => [
  0xa5,
  0,
  0,
  0,
  src >>> 8,
  src & 0xff,
  dst >>> 8,
  dst & 0xff,
  0,
  0,
  0,
  0,
];

async function openChanger(sub: string, barcodes = ["A00001L6", "A00002L6", "A00003L6"]) {
  const cartridges = join(dir, sub);
  const drive = new TapeDrive({ info: TAPE_INFO });
  const changer = await MediumChanger.open({
    info: CHANGER_INFO,
    slots: 8,
    importExport: 1,
    drives: [drive],
    library: new FileCartridgeLibrary(cartridges, { capacity: 1 << 30 }),
    barcodes,
    stateFile: join(cartridges, "changer.json"),
  });
  clearUas(changer);
  clearUas(drive);
  return { changer, drive, stateFile: join(cartridges, "changer.json") };
}

describe("the changer's state file", () => {
  it("keeps every cartridge where it was across a restart, including the one in the drive", async () => {
    const a = await openChanger("restart");
    expect((await exec(a.changer, move(1001, 500))).status).toBe(SAM_STAT_GOOD);
    expect((await exec(a.changer, move(1000, 10))).status).toBe(SAM_STAT_GOOD);
    expect((await exec(a.changer, move(1002, 1007))).status).toBe(SAM_STAT_GOOD);
    clearUas(a.drive);
    await exec(a.drive, cdb.write(123), { dataOut: pattern(123, 3) });
    await exec(a.drive, cdb.filemarks(1));
    const text = await readFile(a.stateFile, "utf8");
    expect(JSON.parse(text)).toEqual({
      format: "pvscsi-changer-state",
      version: 1,
      elements: [
        { address: 10, type: "import-export", barcode: "A00001L6", source: 1000 },
        { address: 500, type: "data-transfer", barcode: "A00002L6", source: 1001 },
        { address: 1007, type: "storage", barcode: "A00003L6", source: 1002 },
      ],
    });
    await a.drive.close();
    await a.changer.close();

    const b = await openChanger("restart");
    expect([...b.changer.placement()]).toEqual([
      [10, "A00001L6"],
      [500, "A00002L6"],
      [1007, "A00003L6"],
    ]);
    expect(b.drive.state).toBe("loaded");
    expect((await exec(b.drive, cdb.read(123), { dataIn: 123 })).bytes).toEqual(pattern(123, 3));
    const res = await exec(b.changer, [0xb8, 0x04, 0, 0, 0, 1, 0, 0, 0, 255, 0, 0], { dataIn: 255 });
    expect(res.bytes.subarray(16 + 9, 16 + 12)).toEqual(Uint8Array.from([0x81, 0x03, 0xe9]));
    await b.drive.close();
  });

  it("cartridges added to the config go to empty slots; removed ones are dropped", async () => {
    const a = await openChanger("config", ["A00001L6", "A00002L6"]);
    await exec(a.changer, move(1000, 1003));
    const b = await openChanger("config", ["A00002L6", "A00009L6"]);
    expect([...b.changer.placement()]).toEqual([
      [1000, "A00009L6"],
      [1001, "A00002L6"],
    ]);
  });

  it("an unusable state file is reported with its path: NOT READY 02/04/03, not a guess", async () => {
    await mkdir(join(dir, "corrupt"), { recursive: true });
    await writeFile(join(dir, "corrupt", "changer.json"), "{}");
    const a = await openChanger("corrupt");
    expect(a.changer.fault).toBe(`changer state ${a.stateFile}: "format" must be "pvscsi-changer-state"`);
    await writeFile(
      a.stateFile,
      '{"format": "pvscsi-changer-state", "version": 1, "elements": [{"address": 4}]}',
    );
    const b = await openChanger("corrupt");
    expect(b.changer.fault).toBe(`changer state ${b.stateFile}: elements[0]: no element at address 4`);
    expect(senseHex(await exec(b.changer, [0, 0, 0, 0, 0, 0]))).toBe(fixedSense(0x02, null, 0x04, 0x03));
    expect((await exec(b.changer, [0x12, 0, 0, 0, 36, 0], { dataIn: 36 })).status).toBe(SAM_STAT_GOOD);
  });

  it("decoding names what is wrong", () => {
    const map = new ElementMap({ transports: 1, slots: 2, importExport: 1, drives: 1 });
    const d = (elements: unknown) =>
      decodeChangerState(JSON.stringify({ format: "pvscsi-changer-state", version: 1, elements }), map);
    expect(decodeChangerState("nope", map)).toMatch(/^not JSON/);
    expect(decodeChangerState('{"format":"x"}', map)).toBe('"format" must be "pvscsi-changer-state"');
    expect(d([{ address: 1, type: "transport", barcode: "A" }])).toBe(
      "elements[0]: a transport element cannot hold a cartridge",
    );
    expect(d([{ address: 1000, type: "drive", barcode: "A" }])).toBe(
      'elements[0]: address 1000 is a storage element, not "drive"',
    );
    expect(
      d([
        { address: 1000, type: "storage", barcode: "A" },
        { address: 1001, type: "storage", barcode: "A" },
      ]),
    ).toBe("elements[1]: cartridge A is listed twice");
    expect(d([{ address: 1000, type: "storage", barcode: "A B" }])).toBe(
      "elements[0].barcode is not a valid barcode",
    );
    expect(d([{ address: 500, type: "data-transfer", barcode: "A", source: 1000 }])).toEqual([
      { address: 500, barcode: "A", source: 1000, imported: false },
    ]);
  });
});
