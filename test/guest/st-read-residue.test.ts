import { describe, expect, it } from "vitest";
import type { ScsiExec } from "../../src/guest/sg.js";
import { StTape } from "../../src/guest/st.js";
import type { ScsiResult } from "../../src/scsifront/scsi-host.js";

/**
 * st's read counts what it got from the sense INFORMATION (the residue), as Linux's st_read
 * does, not from the transport's byte count: replies observed from tgtd 1.0.85, which sends its
 * whole buffer with the CHECK CONDITION at a filemark and swaps residual and length on ILI.
 */
function scripted(replies: ScsiResult[]): ScsiExec {
  return async () => replies.shift()!;
}
const sense = (hex: string) => Uint8Array.from(Buffer.from(hex, "hex"));
const junk = (n: number) => new Uint8Array(n).fill(0x41);

describe("st read residue", () => {
  it("a filemark whose reply carries a full buffer of junk is end of file (null)", async () => {
    const t = new StTape(
      scripted([
        // READ(6) 10240, variable: FILEMARK, VALID, INFORMATION 10240 (nothing read), 10240 bytes sent.
        {
          status: 2,
          host: 0,
          sense: sense("f00080000028000a00000000000100000000"),
          residual: 0,
          data: junk(10240),
        },
      ]),
    );
    expect(await t.read(10240)).toBeNull();
    expect(t.state.eof).toBe("filemark");
  });

  it("ILI on a shorter block returns the block's bytes (request − INFORMATION), not what arrived", async () => {
    const t = new StTape(
      scripted([
        // READ(6) 65536 of a 10240-byte block: ILI, INFORMATION 55296; tgtd sent 55296 bytes.
        {
          status: 2,
          host: 0,
          sense: sense("f000200000d8000a00000000000000000000"),
          residual: 10240,
          data: junk(55296),
        },
      ]),
    );
    expect((await t.read(65536))!.length).toBe(10240);
  });

  it("without VALID the transport's count stands", async () => {
    const t = new StTape(
      scripted([
        {
          status: 2,
          host: 0,
          sense: sense("700080000000000a00000000000100000000"),
          residual: 0,
          data: junk(512),
        },
      ]),
    );
    expect((await t.read(10240))!.length).toBe(512);
  });
});
