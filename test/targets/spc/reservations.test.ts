import { describe, expect, it } from "vitest";
import {
  SAM_STAT_CHECK_CONDITION,
  SAM_STAT_GOOD,
  SAM_STAT_RESERVATION_CONFLICT,
} from "../../../src/scsi/device.js";
import { sasAddressOf } from "../../../src/targets/spc/reservations.js";
import { hex, ramDisk } from "../_support/devices.js";
import { cdb10, clearUas, execSync, I1, I2, initiator } from "../_support/task.js";

const I3 = initiator(3);
const TUR = [0, 0, 0, 0, 0, 0];
const READ1 = cdb10(0x28, 0, 1);
const WRITE1 = cdb10(0x2a, 0, 1);
const block = () => new Uint8Array(512);

function shared() {
  const d = ramDisk();
  for (const i of [I1, I2, I3]) clearUas(d, i);
  return d;
}

function key(k: number): number[] {
  return [0, 0, 0, 0, 0, 0, (k >>> 8) & 0xff, k & 0xff];
}

/** PERSISTENT RESERVE OUT with a 24-byte list. */
function prOut(sa: number, type: number, resKey: number, saKey: number, flags = 0): [number[], Uint8Array] {
  const list = new Uint8Array(24);
  list.set(key(resKey), 0);
  list.set(key(saKey), 8);
  list[20] = flags;
  return [[0x5f, sa, type, 0, 0, 0, 0, 0, 24, 0], list];
}

function out(
  d: ReturnType<typeof ramDisk>,
  init: typeof I1,
  sa: number,
  type: number,
  resKey: number,
  saKey: number,
  flags = 0,
) {
  const [cdb, list] = prOut(sa, type, resKey, saKey, flags);
  return execSync(d, cdb, { initiator: init, dataOut: list });
}

function prIn(d: ReturnType<typeof ramDisk>, init: typeof I1, sa: number, alloc = 1024) {
  return execSync(d, [0x5e, sa, 0, 0, 0, 0, 0, alloc >>> 8, alloc & 0xff, 0], {
    initiator: init,
    dataIn: alloc,
  });
}

describe("RESERVE(6) / RELEASE(6)", () => {
  it("blocks another initiator's medium access and MODE SENSE, not INQUIRY or REQUEST SENSE", () => {
    const d = shared();
    expect(execSync(d, [0x16, 0, 0, 0, 0, 0], { initiator: I1 }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, READ1, { initiator: I2, dataIn: 512 }).status).toBe(SAM_STAT_RESERVATION_CONFLICT);
    expect(execSync(d, TUR, { initiator: I2 }).status).toBe(SAM_STAT_RESERVATION_CONFLICT);
    expect(execSync(d, [0x1a, 0, 0x3f, 0, 255, 0], { initiator: I2, dataIn: 255 }).status).toBe(
      SAM_STAT_RESERVATION_CONFLICT,
    );
    expect(execSync(d, [0x12, 0, 0, 0, 36, 0], { initiator: I2, dataIn: 36 }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, [0x03, 0, 0, 0, 18, 0], { initiator: I2, dataIn: 18 }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, [0x16, 0, 0, 0, 0, 0], { initiator: I2 }).status).toBe(SAM_STAT_RESERVATION_CONFLICT);
    // PREVENT ALLOW with PREVENT=0 is allowed, PREVENT=1 is not (SPC-2 §5.5.1).
    expect(execSync(d, [0x1e, 0, 0, 0, 0, 0], { initiator: I2 }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, [0x1e, 0, 0, 0, 1, 0], { initiator: I2 }).status).toBe(SAM_STAT_RESERVATION_CONFLICT);
    // The holder works; a RELEASE from the other initiator is GOOD and changes nothing.
    expect(execSync(d, WRITE1, { initiator: I1, dataOut: block() }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, [0x17, 0, 0, 0, 0, 0], { initiator: I2 }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, READ1, { initiator: I2, dataIn: 512 }).status).toBe(SAM_STAT_RESERVATION_CONFLICT);
    expect(execSync(d, [0x17, 0, 0, 0, 0, 0], { initiator: I1 }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, READ1, { initiator: I2, dataIn: 512 }).status).toBe(SAM_STAT_GOOD);
  });

  it("goes away with the holder's nexus and with a LUN reset", async () => {
    const d = shared();
    execSync(d, [0x16, 0, 0, 0, 0, 0], { initiator: I1 });
    d.removeNexus(I1);
    expect(execSync(d, READ1, { initiator: I2, dataIn: 512 }).status).toBe(SAM_STAT_GOOD);
    execSync(d, [0x16, 0, 0, 0, 0, 0], { initiator: I2 });
    await d.lunReset(I2);
    clearUas(d, I1);
    expect(execSync(d, READ1, { initiator: I1, dataIn: 512 }).status).toBe(SAM_STAT_GOOD);
  });

  it("persistent reserve commands conflict with another initiator's RESERVE(6)", () => {
    const d = shared();
    execSync(d, [0x16, 0, 0, 0, 0, 0], { initiator: I1 });
    expect(prIn(d, I2, 0).status).toBe(SAM_STAT_RESERVATION_CONFLICT);
  });
});

describe("persistent reservations", () => {
  it("REGISTER, READ KEYS, RESERVE (Write Exclusive), READ RESERVATION", () => {
    const d = shared();
    expect(out(d, I1, 0, 0, 0, 0xaa).status).toBe(SAM_STAT_GOOD);
    expect(out(d, I2, 0, 0, 0, 0xbb).status).toBe(SAM_STAT_GOOD);
    expect(hex(prIn(d, I1, 0).bytes)).toBe("0000000200000010" + "00000000000000aa" + "00000000000000bb");
    expect(out(d, I1, 1, 0x01, 0xaa, 0).status).toBe(SAM_STAT_GOOD);
    expect(hex(prIn(d, I2, 1).bytes)).toBe("0000000200000010" + "00000000000000aa" + "0000000000010000");
    // Write Exclusive: I2 may read, not write.
    expect(execSync(d, READ1, { initiator: I2, dataIn: 512 }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, WRITE1, { initiator: I2, dataOut: block() }).status).toBe(
      SAM_STAT_RESERVATION_CONFLICT,
    );
    expect(execSync(d, WRITE1, { initiator: I1, dataOut: block() }).status).toBe(SAM_STAT_GOOD);
    // Unaffected commands.
    expect(execSync(d, TUR, { initiator: I2 }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], { initiator: I3, dataIn: 8 }).status).toBe(
      SAM_STAT_GOOD,
    );
  });

  it("Exclusive Access blocks reads too; registrants-only types admit registrants", () => {
    const d = shared();
    out(d, I1, 0, 0, 0, 1);
    out(d, I2, 0, 0, 0, 2);
    out(d, I1, 1, 0x03, 1, 0);
    expect(execSync(d, READ1, { initiator: I2, dataIn: 512 }).status).toBe(SAM_STAT_RESERVATION_CONFLICT);
    expect(out(d, I1, 2, 0x03, 1, 0).status).toBe(SAM_STAT_GOOD);
    out(d, I1, 1, 0x06, 1, 0); // Exclusive Access, Registrants Only
    expect(execSync(d, READ1, { initiator: I2, dataIn: 512 }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, WRITE1, { initiator: I2, dataOut: block() }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, READ1, { initiator: I3, dataIn: 512 }).status).toBe(SAM_STAT_RESERVATION_CONFLICT);
  });

  it("conflicts: wrong key, unregistered RESERVE, another's reservation, RESERVE(6) while registered", () => {
    const d = shared();
    out(d, I1, 0, 0, 0, 1);
    expect(out(d, I1, 0, 0, 9, 5).status).toBe(SAM_STAT_RESERVATION_CONFLICT);
    expect(out(d, I2, 1, 0x01, 0, 0).status).toBe(SAM_STAT_RESERVATION_CONFLICT);
    out(d, I2, 0, 0, 0, 2);
    out(d, I1, 1, 0x01, 1, 0);
    expect(out(d, I2, 1, 0x01, 2, 0).status).toBe(SAM_STAT_RESERVATION_CONFLICT);
    expect(out(d, I1, 1, 0x03, 1, 0).status).toBe(SAM_STAT_RESERVATION_CONFLICT);
    expect(execSync(d, [0x16, 0, 0, 0, 0, 0], { initiator: I1 }).status).toBe(SAM_STAT_RESERVATION_CONFLICT);
  });

  it("RELEASE with the wrong type → 05/26/04; a registrants-only release tells the others 06/2A/04", () => {
    const d = shared();
    out(d, I1, 0, 0, 0, 1);
    out(d, I2, 0, 0, 0, 2);
    out(d, I1, 1, 0x05, 1, 0);
    const bad = out(d, I1, 2, 0x01, 1, 0);
    expect(bad.senseString).toBe("05/26/04");
    expect(out(d, I1, 2, 0x05, 1, 0).status).toBe(SAM_STAT_GOOD);
    expect(clearUas(d, I2)).toEqual(["06/2A/04"]);
    expect(clearUas(d, I1)).toEqual([]);
  });

  it("PREEMPT takes the reservation and removes the holder's registration (06/2A/05)", () => {
    const d = shared();
    out(d, I1, 0, 0, 0, 1);
    out(d, I2, 0, 0, 0, 2);
    out(d, I1, 1, 0x01, 1, 0);
    expect(out(d, I2, 4, 0x03, 2, 1).status).toBe(SAM_STAT_GOOD);
    expect(clearUas(d, I1)).toEqual(["06/2A/05"]);
    expect(hex(prIn(d, I1, 1).bytes.subarray(8, 16))).toBe("0000000000000002");
    expect(hex(prIn(d, I1, 0).bytes)).toBe("0000000300000008" + "0000000000000002");
    expect(execSync(d, READ1, { initiator: I1, dataIn: 512 }).status).toBe(SAM_STAT_RESERVATION_CONFLICT);
  });

  it("PREEMPT of an unknown key conflicts; with key 0 and no reservation → 05/26/00", () => {
    const d = shared();
    out(d, I1, 0, 0, 0, 1);
    expect(out(d, I1, 4, 0x01, 1, 7).status).toBe(SAM_STAT_RESERVATION_CONFLICT);
    expect(out(d, I1, 4, 0x01, 1, 0).senseString).toBe("05/26/00");
  });

  it("CLEAR drops everything and tells the other registrants 06/2A/03", () => {
    const d = shared();
    out(d, I1, 0, 0, 0, 1);
    out(d, I2, 0, 0, 0, 2);
    out(d, I1, 1, 0x03, 1, 0);
    expect(out(d, I1, 3, 0, 1, 0).status).toBe(SAM_STAT_GOOD);
    expect(clearUas(d, I2)).toEqual(["06/2A/03"]);
    expect(hex(prIn(d, I2, 0).bytes)).toBe("0000000300000000"); // RESERVE does not bump PRGENERATION
    expect(execSync(d, READ1, { initiator: I2, dataIn: 512 }).status).toBe(SAM_STAT_GOOD);
  });

  it("REGISTER AND IGNORE EXISTING KEY replaces a key without knowing it; unregistering the holder releases", () => {
    const d = shared();
    out(d, I1, 0, 0, 0, 1);
    out(d, I1, 1, 0x01, 1, 0);
    expect(out(d, I1, 6, 0, 0, 0x77).status).toBe(SAM_STAT_GOOD);
    expect(hex(prIn(d, I1, 1).bytes.subarray(8, 16))).toBe("0000000000000077");
    expect(out(d, I1, 0, 0, 0x77, 0).status).toBe(SAM_STAT_GOOD);
    expect(hex(prIn(d, I2, 1).bytes)).toBe("0000000300000000");
  });

  it("all-registrants reservations: every registrant holds it, READ RESERVATION shows key 0", () => {
    const d = shared();
    out(d, I1, 0, 0, 0, 1);
    out(d, I2, 0, 0, 0, 2);
    out(d, I1, 1, 0x07, 1, 0);
    expect(execSync(d, WRITE1, { initiator: I2, dataOut: block() }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, WRITE1, { initiator: I3, dataOut: block() }).status).toBe(
      SAM_STAT_RESERVATION_CONFLICT,
    );
    expect(hex(prIn(d, I3, 1).bytes)).toBe("0000000200000010" + "0000000000000000" + "0000000000070000");
    const full = prIn(d, I3, 3).bytes;
    expect(hex(full.subarray(0, 8))).toBe("0000000200000060");
    expect(hex(full.subarray(8 + 12, 8 + 14))).toBe("0107"); // R_HOLDER, type 7
  });

  it("REPORT CAPABILITIES and READ FULL STATUS with SAS TransportIDs", () => {
    const d = shared();
    expect(hex(prIn(d, I1, 2).bytes)).toBe("00080080ea010000");
    out(d, I1, 0, 0, 0, 0x42);
    out(d, I1, 1, 0x01, 0x42, 0);
    const t = prIn(d, I2, 3);
    expect(t.transferred).toBe(8 + 48);
    const b = t.bytes;
    expect(hex(b.subarray(8, 16))).toBe("0000000000000042");
    expect(hex(b.subarray(20, 22))).toBe("0101");
    expect(hex(b.subarray(26, 32))).toBe("000100000018");
    expect(b[32]).toBe(0x06);
    expect(hex(b.subarray(36, 44))).toBe(sasAddressOf(I1.name).toString(16).padStart(16, "0"));
  });

  it("refuses SPEC_I_PT, ALL_TG_PT and APTPL, a list length other than 24, bad type or scope", () => {
    const d = shared();
    for (const [flags, sks] of [
      [0x08, 0x8b0014],
      [0x04, 0x8a0014],
      [0x01, 0x880014],
    ] as const) {
      const t = out(d, I1, 0, 0, 0, 1, flags);
      expect(t.senseString).toBe("05/26/00");
      expect(t.decoded.sks).toBe(sks);
    }
    const short = execSync(d, [0x5f, 0, 0, 0, 0, 0, 0, 0, 16, 0], { dataOut: new Uint8Array(16) });
    expect(short.senseString).toBe("05/1A/00");
    out(d, I1, 0, 0, 0, 1);
    expect(out(d, I1, 1, 0x02, 1, 0).senseString).toBe("05/24/00");
    expect(out(d, I1, 1, 0x11, 1, 0).senseString).toBe("05/24/00");
    expect(out(d, I1, 5, 0x01, 1, 0).status).toBe(SAM_STAT_CHECK_CONDITION); // PREEMPT AND ABORT: not offered
  });

  it("registrations survive the loss of the I_T nexus", () => {
    const d = shared();
    out(d, I1, 0, 0, 0, 1);
    out(d, I1, 1, 0x01, 1, 0);
    d.removeNexus(I1);
    expect(execSync(d, WRITE1, { initiator: I2, dataOut: block() }).status).toBe(
      SAM_STAT_RESERVATION_CONFLICT,
    );
  });
});

describe("RESERVE(6) and persistent reservations never mix (SPC-2 §5.5.1, SPC-4 §5.13.3)", () => {
  it("PERSISTENT RESERVE IN and OUT from the RESERVE(6) holder itself are RESERVATION CONFLICT", () => {
    const d = shared();
    expect(execSync(d, [0x16, 0, 0, 0, 0, 0], { initiator: I1 }).status).toBe(SAM_STAT_GOOD);
    for (const sa of [0, 1, 2, 3])
      expect(prIn(d, I1, sa).status, `PR IN ${sa}`).toBe(SAM_STAT_RESERVATION_CONFLICT);
    expect(out(d, I1, 0, 0, 0, 0xaa).status).toBe(SAM_STAT_RESERVATION_CONFLICT);
    // Nothing was registered; after RELEASE(6) the PR commands work again.
    expect(execSync(d, [0x17, 0, 0, 0, 0, 0], { initiator: I1 }).status).toBe(SAM_STAT_GOOD);
    expect(hex(prIn(d, I1, 0).bytes)).toBe("0000000000000000");
    expect(out(d, I1, 0, 0, 0, 0xaa).status).toBe(SAM_STAT_GOOD);
  });
});
