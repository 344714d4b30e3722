import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const exec = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

/** What a stranger writes after `npm install pvscsi`: the root entry and `pvscsi/testing`. */
const consumer = `
import { DataBuffer, SAM_STAT_GOOD, type ScsiDevice, type ScsiTask, XEN_PAGE_SIZE } from "pvscsi";
import { DMA_NONE } from "pvscsi/vscsiif";
import { assertCleanedUp, Pair } from "pvscsi/testing";

const device: ScsiDevice = {
  info: { type: 0, vendor: "ME", product: "MINE", revision: "1", scsiLevel: 6, removable: false, serial: "1", wwn: "6001405000000003" },
  submit: (task: ScsiTask) => task.done(SAM_STAT_GOOD, 0, 0),
  abortTask: () => "not-found",
  lunReset: () => "complete",
  addNexus: () => {},
  removeNexus: () => {},
  close: async () => {},
};
const pair = new Pair();
pair.attach(0, 0, 0, device);
const cmd = pair.run(pair.command([0, 0, 0], [0, 0, 0, 0, 0, 0], DMA_NONE));
assertCleanedUp(pair.guest);
console.log(\`status \${cmd.status}, page \${XEN_PAGE_SIZE}, buffer \${DataBuffer.of(new Uint8Array(4)).length}\`);
`;

const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    lib: ["ES2024"],
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    skipLibCheck: false,
    outDir: "out",
    // The scratch project installs nothing but pvscsi; Node's and debug's types come from ours.
    typeRoots: [join(root, "node_modules/@types")],
    types: ["node", "debug"],
  },
  include: ["main.ts"],
};

describe("npm pack → npm install → import from another project", () => {
  let scratch = "";
  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("ships dist with types and LICENSE; the tarball installs offline, type-checks under --strict and runs", async () => {
    scratch = await mkdtemp(join(tmpdir(), "pvscsi-pack-"));
    // npm pack runs `prepare` (the build), so the tarball holds what a registry install would.
    const { stdout } = await exec(npm, ["pack", "--json", "--pack-destination", scratch], { cwd: root });
    const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed!.files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        "LICENSE",
        "package.json",
        "bin/pvscsi.cjs",
        "dist/index.js",
        "dist/index.d.ts",
        "dist/testing/index.d.ts",
        "dist/cli/main.js",
        "web/index.html",
        "web/app.js",
        "sdk/include/pvwasm/xen-wasm.h",
      ]),
    );
    // web/: the live view's page (plain files, no build step); sdk/: the C SDK for wasm drivers.
    expect(
      files.filter((f) => !/^(dist\/|bin\/|web\/|sdk\/|LICENSE$|README\.md$|package\.json$)/.test(f)),
    ).toEqual([]);

    // Offline: pvscsi's one runtime dependency (debug, and its ms) is copied in from ours first.
    const app = join(scratch, "app");
    await mkdir(join(app, "node_modules"), { recursive: true });
    await writeFile(
      join(app, "package.json"),
      JSON.stringify({ name: "app", private: true, type: "module" }),
    );
    for (const dep of ["debug", "ms"]) {
      await cp(join(root, "node_modules", dep), join(app, "node_modules", dep), { recursive: true });
    }
    await exec(
      npm,
      [
        "install",
        "--offline",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        join(scratch, packed!.filename),
      ],
      { cwd: app },
    );
    const installed = JSON.parse(await readFile(join(app, "node_modules/pvscsi/package.json"), "utf8"));
    expect(installed.name).toBe("pvscsi");

    await writeFile(join(app, "main.ts"), consumer);
    await writeFile(join(app, "tsconfig.json"), JSON.stringify(tsconfig));
    await exec(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", app]);
    const run = await exec(process.execPath, [join(app, "out/main.js")], { cwd: app });
    expect(run.stdout).toBe("status 0, page 4096, buffer 4\n");

    // The installed bin: `npx pvscsi abi` prints Xen's layouts.
    const bin = await exec(process.execPath, [join(app, "node_modules/pvscsi/bin/pvscsi.cjs"), "abi"], {
      cwd: app,
    });
    expect(bin.stdout).toMatch(/^struct vscsiif_request \{/);
  }, 180_000); // npm pack builds (tsc), then a second tsc: a minute or more on a busy machine
});
