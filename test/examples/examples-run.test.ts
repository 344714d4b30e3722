import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Each example runs as a user would run it (`tsx examples/x.ts`), importing `pvscsi/...` by
 * package name: tsx resolves those through tsconfig.json's `paths` to the sources, as `tsc`
 * does when `npm test` type-checks them.
 */
async function example(name: string): Promise<string> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", `examples/${name}.ts`], { cwd: root });
  return stdout;
}

describe("the examples run and print what they promise", () => {
  it("custom-device: a ScsiDevice of one's own answers through scsiback", async () => {
    expect(await example("custom-device")).toBe(
      [
        "TEST UNIT READY: status 0",
        'INQUIRY: status 0, "EXAMPLE TINY DISK       0001"',
        "READ CAPACITY(10): status 0, 2048 blocks of 512 bytes",
        "opcode 0xff: status 2, sense key 5, ASC 0x20",
        "",
      ].join("\n"),
    );
  });

  it("raw-frontend: a hand-built vscsiif request is served by scsiback", async () => {
    expect(await example("raw-frontend")).toBe(
      [
        "rqid 1: host 0, status 2, sense 18 bytes, residual 512",
        "rqid 2: host 0, status 0, sense 0 bytes, residual 0",
        "backend notified the frontend 2 times",
        "clean: no grant live, nothing mapped",
        "",
      ].join("\n"),
    );
  });

  it("own-ring-test: one's own ring protocol tested with pvscsi/testing", async () => {
    expect(await example("own-ring-test")).toBe(
      "600 requests over a 256-slot ring, all answered\nclean: no grant mapped or live, no port bound\n",
    );
  });
});
