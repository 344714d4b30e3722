import { describe, expect, it } from "vitest";
import { encodePdu, newBhs, OP_SCSI_CMD, OP_SNACK, PduReader, setU32 } from "../../src/iscsi/pdu.js";
import { ramDisk } from "../targets/_support/devices.js";
import { Wire } from "./_wire.js";

/** xorshift32: a deterministic stream for reproducible fuzzing. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** Everything the target sent, decoded. */
function sentByTarget(w: Wire): { op: number; reason: number }[] {
  const r = new PduReader(1 << 24);
  r.digests = { header: w.target.params.headerDigest, data: w.target.params.dataDigest };
  for (const b of w.toInitiator.splice(0)) r.push(b);
  const out = [];
  for (let p = r.next(); p; p = r.next()) out.push({ op: p.bhs[0]! & 0x3f, reason: p.bhs[2]! });
  return out;
}

describe("bad PDUs from a peer", () => {
  it("an unknown opcode gets Reject 0x05, a SNACK Reject 0x03, and the session goes on", async () => {
    const w = new Wire(ramDisk());
    await w.login();
    const bad = newBhs(0x1c, true);
    w.target.receive(encodePdu({ bhs: bad, ahs: new Uint8Array(0), data: new Uint8Array(0) }));
    w.target.receive(encodePdu({ bhs: newBhs(OP_SNACK), ahs: new Uint8Array(0), data: new Uint8Array(0) }));
    expect(sentByTarget(w)).toEqual([
      { op: 0x3f, reason: 0x05 },
      { op: 0x3f, reason: 0x03 },
    ]);
    expect(w.target.phase).toBe("full-feature");
  });

  it("a SCSI Command with more immediate data than EDTL is rejected; a reused ITT too", async () => {
    const w = new Wire(ramDisk());
    await w.login();
    const cmd = newBhs(OP_SCSI_CMD, true);
    cmd[1] = 0xa1;
    setU32(cmd, 16, 9);
    setU32(cmd, 20, 4); // EDTL 4, 8 bytes sent
    cmd[32] = 0x2a;
    w.target.receive(encodePdu({ bhs: cmd, ahs: new Uint8Array(0), data: new Uint8Array(8) }));
    expect(sentByTarget(w)).toEqual([{ op: 0x3f, reason: 0x04 }]);
  });

  it("a PDU before login, or a data segment over MaxRecvDataSegmentLength, drops the connection", async () => {
    const w = new Wire(ramDisk());
    w.target.receive(
      encodePdu({ bhs: newBhs(OP_SCSI_CMD), ahs: new Uint8Array(0), data: new Uint8Array(0) }),
    );
    expect(w.closedBy.target).toMatch(/before login/);
    const v = new Wire(ramDisk());
    await v.login();
    const big = newBhs(0x00, true);
    big[5] = 0x7f; // 8 MiB data segment announced
    v.target.receive(big);
    expect(v.closedBy.target).toMatch(/exceeds MaxRecvDataSegmentLength/);
  });

  it("500 mutated PDUs and random byte streams never throw out of receive (target and initiator)", async () => {
    const next = rng(0xc0ffee);
    let closes = 0;
    for (let round = 0; round < 500; round++) {
      const w = new Wire(ramDisk(16));
      await w.login();
      const bhs = newBhs(next() % 0x40, (next() & 1) === 1);
      for (let i = 1; i < 48; i++) if (next() % 4 === 0) bhs[i] = next() & 0xff;
      bhs[4] = next() % 3; // a little AHS now and then
      bhs[5] = 0;
      const dataLen = next() % 300;
      bhs[6] = dataLen >> 8;
      bhs[7] = dataLen & 0xff;
      const junk = Uint8Array.from({ length: next() % 4 === 0 ? 200 : 0 }, () => next() & 0xff);
      const wire = new Uint8Array(48 + bhs[4]! * 4 + ((dataLen + 3) & ~3));
      wire.set(bhs);
      expect(() => w.target.receive(wire)).not.toThrow();
      expect(() => w.target.receive(junk)).not.toThrow();
      expect(() => w.initiator.receive(wire)).not.toThrow();
      if (w.closedBy.target) closes++;
      await new Promise((r) => setImmediate(r)); // let any command started settle
      expect(() => w.pump()).not.toThrow();
    }
    expect(closes).toBeGreaterThan(0);
  }, 60_000);
});
