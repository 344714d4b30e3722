import { describe, expect, it } from "vitest";
import { newStState } from "../../../src/guest/st.js";
import { runMt } from "../../../src/guest/userland/mt.js";
import { MemoryCartridgeLibrary } from "../../../src/targets/ssc/cartridge-library.js";
import { TapeDrive } from "../../../src/targets/ssc/tape-drive.js";
import { cdb, loadedDrive, pattern, TAPE_INFO, writeBlock } from "../../targets/_support/tape.js";
import { clearUas, execSync } from "../../targets/_support/task.js";
import { readyExec } from "./_support.js";

const status = (file: number, block: number, size: number, density: string, gstat: string, flags: string) =>
  [
    "SCSI 2 tape drive:",
    `File number=${file}, block number=${block}, partition=0.`,
    `Tape block size ${size} bytes. Density code ${density}.`,
    "Soft error count since last status=0",
    `General status bits on (${gstat}):`,
    flags,
    "",
  ].join("\n");

describe("mt", () => {
  it("status at BOT, then as st counts files and blocks through weof, rewind, fsf, fsr, bsf, eod", async () => {
    const { drive } = loadedDrive();
    const exec = await readyExec(drive);
    const state = newStState();
    const mt = (...argv: string[]) => runMt(argv, exec, { state });
    expect((await mt("status")).stdout).toBe(
      status(0, 0, 0, "0x5a (LTO-6)", "41010000", " BOT ONLINE IM_REP_EN"),
    );
    writeBlock(drive, pattern(100));
    writeBlock(drive, pattern(100));
    state.blkno = 2;
    expect((await mt("weof", "1")).exitCode).toBe(0);
    writeBlock(drive, pattern(100));
    expect((await mt("weof")).exitCode).toBe(0);
    expect((await mt("status")).data.status).toMatchObject({ fileno: 2, blkno: 0 });
    expect((await mt("rewind")).exitCode).toBe(0);
    expect((await mt("fsf", "1")).exitCode).toBe(0);
    expect((await mt("status")).stdout).toBe(status(1, 0, 0, "0x5a (LTO-6)", "1010000", " ONLINE IM_REP_EN"));
    expect((await mt("fsr", "1")).exitCode).toBe(0);
    expect((await mt("tell")).stdout).toBe("At block 4.\n");
    // fsr over the filemark: EIO, and st counts the file it entered.
    const over = await mt("fsr", "2");
    expect(over).toMatchObject({ exitCode: 2, stderr: "/dev/nst0: Input/output error\n" });
    expect((await mt("status")).data.status).toMatchObject({
      fileno: 2,
      blkno: 0,
      flags: ["EOF", "ONLINE", "IM_REP_EN"],
    });
    expect((await mt("bsf", "1")).exitCode).toBe(0);
    expect((await mt("status")).data.status).toMatchObject({ fileno: 1, blkno: -1 });
    expect((await mt("eod")).exitCode).toBe(0);
    expect((await mt("status")).stdout).toBe(
      status(2, -1, 0, "0x5a (LTO-6)", "9010000", " EOD ONLINE IM_REP_EN"),
    );
    expect((await mt("bsf", "9")).exitCode).toBe(2);
    expect((await mt("status")).data.status).toMatchObject({ fileno: 0, blkno: 0 });
  });

  it("a fresh run knows the file from READ POSITION, the block only at BOT", async () => {
    const { drive } = loadedDrive();
    const exec = await readyExec(drive);
    writeBlock(drive, pattern(10));
    execSync(drive, cdb.filemarks(2));
    expect((await runMt(["status"], exec)).data.status).toMatchObject({ fileno: 2, blkno: -1 });
    execSync(drive, cdb.rewind());
    expect((await runMt(["status"], exec)).data.status).toMatchObject({ fileno: 0, blkno: 0 });
  });

  it("without a tape: status shows DR_OPEN; rewind fails to open: No medium found", async () => {
    const drive = new TapeDrive({ info: TAPE_INFO });
    const exec = await readyExec(drive);
    const s = await runMt(["-f", "/dev/nst1", "status"], exec);
    expect(s.stdout).toBe(status(-1, -1, 0, "0x0 (default)", "50000", " DR_OPEN IM_REP_EN"));
    expect(await runMt(["-f", "/dev/nst1", "rewind"], exec)).toMatchObject({
      exitCode: 1,
      stdout: "",
      stderr: "/dev/nst1: No medium found\n",
    });
  });

  it("setblk, setdensity and compression go through MODE SELECT; tell and seek use block ids", async () => {
    const { drive } = loadedDrive();
    const exec = await readyExec(drive);
    expect((await runMt(["setblk", "512"], exec)).exitCode).toBe(0);
    expect((await runMt(["status"], exec)).stdout).toContain(
      "Tape block size 512 bytes. Density code 0x5a (LTO-6).",
    );
    expect((await runMt(["setdensity", "0x58"], exec)).exitCode).toBe(0);
    expect((await runMt(["status"], exec)).stdout).toContain(
      "Tape block size 512 bytes. Density code 0x58 (LTO-5).",
    );
    expect((await runMt(["setblk", "0"], exec)).exitCode).toBe(0);
    expect((await runMt(["compression", "0"], exec)).exitCode).toBe(0);
    expect(clearUas(drive)).toEqual(["06/2A/01"]); // another nexus changed the mode parameters
    expect(execSync(drive, [0x1a, 0x08, 0x0f, 0, 64, 0], { dataIn: 64 }).bytes[6]).toBe(0x40);
    expect((await runMt(["compression", "1"], exec)).exitCode).toBe(0);
    clearUas(drive);
    expect(execSync(drive, [0x1a, 0x08, 0x0f, 0, 64, 0], { dataIn: 64 }).bytes[6]).toBe(0xc0);
    for (let i = 0; i < 5; i++) writeBlock(drive, pattern(10, i));
    expect((await runMt(["seek", "3"], exec)).exitCode).toBe(0);
    expect(drive.position).toBe(3);
    expect((await runMt(["tell"], exec)).stdout).toBe("At block 3.\n");
    expect((await runMt(["setblk", "0x1000000"], exec)).exitCode).toBe(2);
  });

  it("erase, offline and load; lock keeps the tape in", async () => {
    const { drive } = loadedDrive();
    const exec = await readyExec(drive);
    writeBlock(drive, pattern(10));
    writeBlock(drive, pattern(10));
    execSync(drive, cdb.locate10(1));
    expect((await runMt(["erase"], exec)).exitCode).toBe(0);
    expect(execSync(drive, cdb.read(10), { dataIn: 10 }).senseString).toBe("08/00/05");
    expect((await runMt(["lock"], exec)).exitCode).toBe(0);
    expect(await runMt(["offline"], exec)).toMatchObject({
      exitCode: 2,
      stderr: "/dev/nst0: Input/output error\n",
    });
    expect((await runMt(["unlock"], exec)).exitCode).toBe(0);
    expect((await runMt(["offline"], exec)).exitCode).toBe(0);
    expect(drive.state).toBe("unloaded");
    expect((await runMt(["status"], exec)).data.status?.flags).toEqual(["IM_REP_EN"]);
    expect((await runMt(["load"], exec)).exitCode).toBe(0);
    expect(drive.state).toBe("loaded");
  });

  it("a write-protected tape: WR_PROT in status, weof cannot open it for writing", async () => {
    const lib = new MemoryCartridgeLibrary({ capacity: 1 << 20, writeProtected: new Set(["WP1"]) });
    const drive = new TapeDrive({ info: TAPE_INFO });
    drive.insert(lib.openNow("WP1"));
    const exec = await readyExec(drive);
    expect((await runMt(["status"], exec)).data.status?.flags).toEqual([
      "BOT",
      "WR_PROT",
      "ONLINE",
      "IM_REP_EN",
    ]);
    expect(await runMt(["weof"], exec)).toMatchObject({
      exitCode: 1,
      stderr: "/dev/nst0: Read-only file system\n",
    });
  });

  it("usage: unknown and ambiguous commands, too many arguments, negative counts, abbreviations", async () => {
    const { drive } = loadedDrive();
    const exec = await readyExec(drive);
    const usage = "usage: mt [-v] [--version] [-h] [ -f device ] command [ count ]\n";
    expect(await runMt([], exec)).toMatchObject({ exitCode: 1, stderr: usage });
    expect(await runMt(["spin"], exec)).toMatchObject({
      exitCode: 1,
      stderr: `mt: unknown command "spin"\n${usage}`,
    });
    expect(await runMt(["se"], exec)).toMatchObject({
      exitCode: 1,
      stderr: `mt: ambiguous command "se"\n${usage}`,
    });
    expect((await runMt(["fsf", "1", "2"], exec)).stderr).toBe(
      "mt: too many arguments for the command 'fsf'.\n",
    );
    expect((await runMt(["bsr", "-1"], exec)).stderr).toBe("mt: negative repeat count\n");
    expect((await runMt(["stat"], exec)).data.command).toBe("status");
    expect((await runMt(["rew"], exec)).stderr).toBe(`mt: ambiguous command "rew"\n${usage}`); // rewind, rewoffl
    expect((await runMt(["rewi"], exec)).data.command).toBe("rewind");
  });
});
