import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SAM_STAT_GOOD } from "../../../src/scsi/device.js";
import { Disk, MAX_ATOMIC_BLOCKS, MAX_WRITE_SAME_BLOCKS } from "../../../src/targets/sbc/disk.js";
import { DISK_INFO, hex, ramDisk } from "../_support/devices.js";
import { cdb10, cdb16, clearUas, exec, execSync } from "../_support/task.js";

function ready(blocks = 1024, options = {}) {
  const d = ramDisk(blocks, 512, options);
  clearUas(d);
  return d;
}
const fill = (n: number, v: number) => new Uint8Array(n).fill(v);
const getLbaStatus = (lba: number, alloc = 24) => {
  const c = cdb16(0x9e, lba, alloc);
  c[1] = 0x12;
  return c;
};

describe("ORWRITE(16) (SBC-4 §5.9)", () => {
  it("writes the OR of the data-out and the medium", () => {
    const d = ready();
    execSync(d, cdb10(0x2a, 7, 2), { dataOut: fill(1024, 0x0f) });
    expect(execSync(d, cdb16(0x8b, 7, 2), { dataOut: fill(1024, 0xa0) }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb10(0x28, 7, 2), { dataIn: 1024 }).bytes).toEqual(fill(1024, 0xaf));
    // Blocks never written read as zeros, so ORWRITE there is a plain write.
    expect(execSync(d, cdb16(0x8b, 100, 1), { dataOut: fill(512, 0x5a) }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb10(0x28, 100, 1), { dataIn: 512 }).bytes).toEqual(fill(512, 0x5a));
  });

  it("0 blocks is not an error; range, ORPROTECT and short data-out are refused; DPO/FUA accepted", () => {
    const d = ready();
    expect(execSync(d, cdb16(0x8b, 0, 0)).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb16(0x8b, 1024, 0)).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb16(0x8b, 1025, 0)).senseString).toBe("05/21/00");
    expect(execSync(d, cdb16(0x8b, 1023, 2), { dataOut: fill(1024, 1) }).senseString).toBe("05/21/00");
    expect(execSync(d, cdb16(0x8b, 2 ** 63, 0)).senseString).toBe("05/21/00");
    expect(execSync(d, cdb16(0x8b, 0, 1, 0x20), { dataOut: fill(512, 1) }).senseString).toBe("05/24/00");
    expect(execSync(d, cdb16(0x8b, 0, 2), { dataOut: fill(512, 1) }).senseString).toBe("05/0E/03");
    expect(execSync(d, cdb16(0x8b, 0, 1, 0x18), { dataOut: fill(512, 1) }).status).toBe(SAM_STAT_GOOD);
  });

  it("is refused with 07/27/00 on a write-protected disk", () => {
    const d = ready(1024, { readOnly: true });
    expect(execSync(d, cdb16(0x8b, 0, 1), { dataOut: fill(512, 1) }).senseString).toBe("07/27/00");
  });

  it("a file-backed disk ORs as one step of its queue", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pvscsi-orwrite-"));
    try {
      const d = await Disk.file(DISK_INFO, join(dir, "d.img"), { size: 1 << 20, create: true });
      clearUas(d);
      await exec(d, cdb10(0x2a, 3, 1), { dataOut: fill(512, 0x11) });
      // Queued back to back: the second ORWRITE sees the first one's result.
      const a = exec(d, cdb16(0x8b, 3, 1), { dataOut: fill(512, 0x22) });
      const b = exec(d, cdb16(0x8b, 3, 1), { dataOut: fill(512, 0x44) });
      expect((await a).status).toBe(SAM_STAT_GOOD);
      expect((await b).status).toBe(SAM_STAT_GOOD);
      expect((await exec(d, cdb10(0x28, 3, 1), { dataIn: 512 })).bytes).toEqual(fill(512, 0x77));
      await d.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("PRE-FETCH(10/16) (SBC-4 §5.11, §5.12)", () => {
  it("a valid range ends GOOD (no read cache to fill: never CONDITION MET), whatever IMMED and GROUP", () => {
    const d = ready();
    expect(execSync(d, cdb10(0x34, 0, 256)).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb10(0x34, 1000, 24, 0x02)).status).toBe(SAM_STAT_GOOD);
    const grouped = cdb10(0x34, 0, 1, 0x02);
    grouped[6] = 3;
    expect(execSync(d, grouped).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb16(0x90, 1023, 1)).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb16(0x90, 1024, 0)).status).toBe(SAM_STAT_GOOD);
  });

  it("beyond the last LBA → 05/21/00; reserved bits → 05/24/00", () => {
    const d = ready();
    expect(execSync(d, cdb10(0x34, 1023, 2)).senseString).toBe("05/21/00");
    expect(execSync(d, cdb10(0x34, 1025, 0)).senseString).toBe("05/21/00");
    expect(execSync(d, cdb10(0x34, 0xffffffff, 1)).senseString).toBe("05/21/00");
    expect(execSync(d, cdb16(0x90, 2 ** 63, 1)).senseString).toBe("05/21/00");
    expect(execSync(d, cdb10(0x34, 0, 1, 0x80)).senseString).toBe("05/24/00");
  });
});

describe("GET LBA STATUS on a fully provisioned disk", () => {
  it("reports every LBA mapped, from the LBA asked to the end", () => {
    const d = ready();
    const t = execSync(d, getLbaStatus(1000), { dataIn: 24 });
    expect(t.status).toBe(SAM_STAT_GOOD);
    // PARAMETER DATA LENGTH 20; one descriptor: LBA 1000, 24 blocks, status 0 (mapped).
    expect(hex(t.bytes)).toBe("0000001400000000" + "00000000000003e8" + "0000001800000000");
  });

  it("at or beyond the capacity → 05/21/00", () => {
    const d = ready();
    expect(execSync(d, getLbaStatus(1024), { dataIn: 24 }).senseString).toBe("05/21/00");
    expect(execSync(d, getLbaStatus(2 ** 63), { dataIn: 24 }).senseString).toBe("05/21/00");
  });
});

describe("WRITE SAME with NUMBER OF LOGICAL BLOCKS 0 (WSNZ = 0)", () => {
  it("writes from the LBA to the last one", () => {
    const d = ready();
    const pat = fill(512, 0xc3);
    expect(execSync(d, cdb10(0x41, 1020, 0), { dataOut: pat }).status).toBe(SAM_STAT_GOOD);
    const r = execSync(d, cdb10(0x28, 1019, 5), { dataIn: 2560 }).bytes;
    expect([r[0], r[512], r[1024], r[1536], r[2048]]).toEqual([0, 0xc3, 0xc3, 0xc3, 0xc3]);
    expect(execSync(d, cdb16(0x93, 1024, 0), { dataOut: pat }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb16(0x93, 1025, 0), { dataOut: pat }).senseString).toBe("05/21/00");
  });

  it("refuses (05/24/00) when that is more than MAXIMUM WRITE SAME LENGTH", () => {
    const blocks = MAX_WRITE_SAME_BLOCKS + 8;
    const d = ready(blocks);
    const pat = fill(512, 1);
    const t = execSync(d, cdb10(0x41, 7, 0), { dataOut: pat });
    expect(t.senseString).toBe("05/24/00");
    expect(execSync(d, cdb10(0x41, 8, 0), { dataOut: pat }).status).toBe(SAM_STAT_GOOD);
  });
});

describe("READ DEFECT DATA(10/12) (SBC-4 §5.20, §5.21)", () => {
  it("the lists asked for are valid and empty, in the format asked for", () => {
    const d = ready();
    // REQ_PLIST | REQ_GLIST, long block format (011b).
    const t10 = execSync(d, [0x37, 0, 0x18 | 3, 0, 0, 0, 0, 0, 32, 0], { dataIn: 32 });
    expect(t10.status).toBe(SAM_STAT_GOOD);
    expect(hex(t10.bytes)).toBe("001b0000");
    const t12 = execSync(d, [0xb7, 0x08 | 5, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], { dataIn: 32 });
    expect(hex(t12.bytes)).toBe("000d000000000000");
    expect(hex(execSync(d, [0x37, 0, 0, 0, 0, 0, 0, 0, 32, 0], { dataIn: 32 }).bytes)).toBe("00000000");
  });

  it("reserved list formats → 05/24/00; the allocation length cuts the header", () => {
    const d = ready();
    expect(execSync(d, [0x37, 0, 0x01, 0, 0, 0, 0, 0, 32, 0], { dataIn: 32 }).senseString).toBe("05/24/00");
    expect(execSync(d, [0xb7, 0x07, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], { dataIn: 32 }).senseString).toBe(
      "05/24/00",
    );
    expect(execSync(d, [0x37, 0, 0x18, 0, 0, 0, 0, 0, 2, 0], { dataIn: 2 }).bytes).toHaveLength(2);
  });
});

describe("WRITE ATOMIC(16) (SBC-4 §5.48)", () => {
  const atomic = (lba: number, blocks: number, b1 = 0) => {
    const c = cdb16(0x9c, lba, 0, b1);
    c[12] = blocks >>> 8;
    c[13] = blocks & 0xff;
    return c;
  };

  it("a RAM disk offers it (VPD B0h MAXIMUM ATOMIC TRANSFER LENGTH) and writes the blocks", () => {
    const d = ready();
    const b0 = execSync(d, [0x12, 1, 0xb0, 0, 64, 0], { dataIn: 64 }).bytes;
    expect(hex(b0.subarray(44, 64))).toBe(
      `${MAX_ATOMIC_BLOCKS.toString(16).padStart(8, "0")}${"0".repeat(32)}`,
    );
    expect(execSync(d, atomic(5, 2, 0x08), { dataOut: fill(1024, 0x3c) }).status).toBe(SAM_STAT_GOOD);
    expect(execSync(d, cdb10(0x28, 5, 2), { dataIn: 1024 }).bytes).toEqual(fill(1024, 0x3c));
    expect(execSync(d, atomic(0, 0)).status).toBe(SAM_STAT_GOOD);
  });

  it("refuses an atomic boundary, too many blocks, WRPROTECT, and the range beyond the end", () => {
    const d = ready(4096);
    const bounded = atomic(0, 1);
    bounded[11] = 1;
    expect(execSync(d, bounded, { dataOut: fill(512, 1) }).senseString).toBe("05/24/00");
    const big = MAX_ATOMIC_BLOCKS + 1;
    expect(execSync(d, atomic(0, big), { dataOut: fill(big * 512, 1) }).senseString).toBe("05/24/00");
    expect(execSync(d, atomic(0, 1, 0x20), { dataOut: fill(512, 1) }).senseString).toBe("05/24/00");
    expect(execSync(d, atomic(4095, 2), { dataOut: fill(1024, 1) }).senseString).toBe("05/21/00");
    expect(execSync(d, atomic(2 ** 63, 0)).senseString).toBe("05/21/00");
  });

  it("a file-backed disk does not offer it (a crash could tear a file write): 05/20/00, B0h says 0", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pvscsi-atomic-"));
    try {
      const d = await Disk.file(DISK_INFO, join(dir, "d.img"), { size: 1 << 20, create: true });
      clearUas(d);
      expect((await exec(d, atomic(0, 1), { dataOut: fill(512, 1) })).senseString).toBe("05/20/00");
      const b0 = (await exec(d, [0x12, 1, 0xb0, 0, 64, 0], { dataIn: 64 })).bytes;
      expect(hex(b0.subarray(44, 48))).toBe("00000000");
      await d.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
