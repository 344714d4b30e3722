import { type DeviceInfo, TYPE_MEDIUM_CHANGER, TYPE_TAPE } from "../../../src/scsi/device.js";
import { MediumChanger, type MediumChangerOptions } from "../../../src/targets/smc/medium-changer.js";
import { MemoryCartridgeLibrary } from "../../../src/targets/ssc/cartridge-library.js";
import { TapeDrive } from "../../../src/targets/ssc/tape-drive.js";
import { clearUas, execSync, I1, type TestTask } from "./task.js";

export const TAPE_INFO: DeviceInfo = {
  type: TYPE_TAPE,
  vendor: "HP",
  product: "Ultrium 6-SCSI",
  revision: "35GD",
  scsiLevel: 6,
  removable: true,
  serial: "HU1234TAPE",
  wwn: "3000000000000101",
};

export const CHANGER_INFO: DeviceInfo = {
  type: TYPE_MEDIUM_CHANGER,
  vendor: "HP",
  product: "1x8 G2 AUTOLDR",
  revision: "1.70",
  scsiLevel: 5,
  removable: true,
  serial: "CH1234",
  wwn: "3000000000000102",
};

/** A drive with a fresh memory cartridge loaded and its unit attentions consumed. */
export function loadedDrive(
  capacity = 1 << 20,
  earlyWarning?: number,
): { drive: TapeDrive; library: MemoryCartridgeLibrary } {
  const library = new MemoryCartridgeLibrary({ capacity, earlyWarning });
  const drive = new TapeDrive({ info: TAPE_INFO });
  drive.insert(library.openNow("A00001L6"));
  clearUas(drive);
  return { drive, library };
}

/** An autoloader (8 slots, 1 mail slot, 1 transport) with one drive, memory cartridges. */
export function autoloader(
  barcodes = ["A00001L6", "A00002L6", "A00003L6"],
  options: Partial<MediumChangerOptions> = {},
): { changer: MediumChanger; drive: TapeDrive; library: MemoryCartridgeLibrary } {
  const library = new MemoryCartridgeLibrary({ capacity: 1 << 20 });
  const drive = new TapeDrive({ info: TAPE_INFO });
  const changer = new MediumChanger({
    info: CHANGER_INFO,
    slots: 8,
    importExport: 1,
    drives: [{ drive, target: 0, lun: 0 }],
    library,
    barcodes,
    ...options,
  });
  clearUas(changer);
  clearUas(drive);
  return { changer, drive, library };
}

/** Bytes 0..n-1 with a recognisable pattern seeded by `seed`. */
export function pattern(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

/** CDB builders. */
export const cdb = {
  read: (len: number, fixed = false, sili = false) => [
    0x08,
    (fixed ? 1 : 0) | (sili ? 2 : 0),
    (len >>> 16) & 0xff,
    (len >>> 8) & 0xff,
    len & 0xff,
    0,
  ],
  write: (len: number, fixed = false) => [
    0x0a,
    fixed ? 1 : 0,
    (len >>> 16) & 0xff,
    (len >>> 8) & 0xff,
    len & 0xff,
    0,
  ],
  filemarks: (n: number, immed = false) => [
    0x10,
    immed ? 1 : 0,
    (n >>> 16) & 0xff,
    (n >>> 8) & 0xff,
    n & 0xff,
    0,
  ],
  space: (code: number, count: number) => {
    const c = count & 0xffffff;
    return [0x11, code, (c >>> 16) & 0xff, (c >>> 8) & 0xff, c & 0xff, 0];
  },
  rewind: (immed = false) => [0x01, immed ? 1 : 0, 0, 0, 0, 0],
  loadUnload: (b4: number, immed = false) => [0x1b, immed ? 1 : 0, 0, 0, b4, 0],
  locate10: (block: number, cp = false, partition = 0) => [
    0x2b,
    cp ? 2 : 0,
    0,
    (block >>> 24) & 0xff,
    (block >>> 16) & 0xff,
    (block >>> 8) & 0xff,
    block & 0xff,
    0,
    partition,
    0,
  ],
  readPosition: (sa: number, alloc = 0) => [0x34, sa, 0, 0, 0, 0, 0, (alloc >>> 8) & 0xff, alloc & 0xff, 0],
  prevent: (v: number) => [0x1e, 0, 0, 0, v, 0],
};

/** Write one variable block of `data`; returns the task. */
export function writeBlock(drive: TapeDrive, data: Uint8Array, init = I1): TestTask {
  return execSync(drive, cdb.write(data.length), { dataOut: data, initiator: init });
}

/** The sense bytes as lowercase hex. */
export function senseHex(t: TestTask): string {
  return Buffer.from(t.sense.subarray(0, t.senseLength)).toString("hex");
}

/** Fixed-format sense as hex: key/flags byte, INFORMATION (signed 32-bit or null), ASC/ASCQ, SKS. */
export function fixedSense(
  keyFlags: number,
  info: number | null,
  asc: number,
  ascq: number,
  sks = 0,
): string {
  const b = new Uint8Array(18);
  b[0] = info === null ? 0x70 : 0xf0;
  b[2] = keyFlags;
  if (info !== null) {
    const v = info >>> 0;
    b[3] = v >>> 24;
    b[4] = (v >>> 16) & 0xff;
    b[5] = (v >>> 8) & 0xff;
    b[6] = v & 0xff;
  }
  b[7] = 10;
  b[12] = asc;
  b[13] = ascq;
  if (sks) {
    b[15] = (sks >>> 16) & 0xff;
    b[16] = (sks >>> 8) & 0xff;
    b[17] = sks & 0xff;
  }
  return Buffer.from(b).toString("hex");
}
