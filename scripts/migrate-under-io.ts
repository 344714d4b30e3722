/**
 * A live migration under I/O, and a refused one, in one command:
 *
 *   npx tsx scripts/migrate-under-io.ts [--warmup N (500)] [--after N (20)] [--keep]
 *   npm run demo:migrate
 *
 * Two hosts run in this process, each as `pvscsi up` sets one up (a {@link Host} and its control
 * socket, in a temporary folder). They share two image files (`shareable = yes`) but number them
 * differently: a.img is 0:0:0:0 on host A and 2:0:0:7 on host B, b.img is 0:0:1:0 on A and
 * 1:0:3:0 on B. Host A also has a RAM disk (0:0:2:0) that host B cannot reach.
 *
 * 1. Guest `io` on A gets both shared disks. A writer runs `dd if=pattern:7 of=/dev/sda bs=4k
 *    count=1 seek=i`, one block per command, on whichever host has the guest; fio keeps 8
 *    random 4 KiB writes in flight on /dev/sdb.
 * 2. Once A's vhost has served `--warmup` requests, `pvscsi xl migrate io <B's socket>` runs
 *    through the CLI's own code path. Its output is printed as is: each device's renumbering,
 *    the memory rounds, the downtime and total, and what the resumed kernel on B carried over.
 * 3. The writer goes on, now on B, for `--after` more blocks. The script waits until every
 *    carried request has completed on B, and prints B's resume stats. Then it reads the first n
 *    acknowledged blocks of /dev/sda on B, hashes them, and compares with the hash of the
 *    pattern's first n blocks.
 * 4. Guest `pinned` on A gets the RAM disk. `pvscsi xl migrate pinned <B's socket>` must be
 *    refused before the guest is suspended, and `pinned` must keep running on A. The script
 *    checks that it is listed there and not on B, and that a write on its disk works.
 *
 * Exit status 0 only when every check held; 1 with the failed checks listed otherwise.
 * Timings (downtime, total) depend on the machine's load and are printed, not checked.
 * `--keep` leaves the temporary folder (image files, sockets gone) for a look afterwards.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { main as cli } from "../src/cli/main.js";
import { hostControlHandler } from "../src/toolstack/control-handler.js";
import { ControlServer } from "../src/toolstack/control-server.js";
import { Host } from "../src/toolstack/host.js";

/** How the demo runs; the defaults are the command line's. */
export interface MigrateDemoOptions {
  /** Requests A's vhost must have served (fio is writing) before the migration starts. */
  readonly warmupRequests?: number;
  /** Blocks the writer acknowledges on the target after the migration, before it stops. */
  readonly blocksAfter?: number;
  /** Keep the temporary folder. */
  readonly keep?: boolean;
  /** Where the report goes (a line at a time). */
  readonly out?: (line: string) => void;
}

/** What the demo found; `failures` is empty when every check held. */
export interface MigrateDemoResult {
  readonly failures: readonly string[];
  /** The writer's acknowledged blocks (0..n-1, verified on the target when `failures` is empty). */
  readonly blocks: number;
  /** Of those, how many were acknowledged on the target. */
  readonly blocksOnTarget: number;
  /** The resumed kernel's stats on the target, or null if the migration did not happen. */
  readonly resumed: {
    readonly carried: number;
    readonly resetCompletions: number;
    readonly resetRetries: number;
    readonly carriedCompletions: number;
    readonly carriedFailures: number;
  } | null;
}

/** Temporary folders of runs not finished yet (removed on Ctrl-C, see the end of the file). */
const liveDirs = new Set<string>();
/** The writer's blocks on the source at most (the shared disks are 32 MiB: 8192 blocks). */
const SOURCE_BLOCKS = 4096;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha = (s: string) => /sha256 ([0-9a-f]{64})/.exec(s)?.[1];

/** Run the demo: two hosts, a migration under I/O, a refused one; all cleaned up afterwards. */
export async function runMigrateDemo(options: MigrateDemoOptions = {}): Promise<MigrateDemoResult> {
  const warmup = options.warmupRequests ?? 500;
  const after = options.blocksAfter ?? 20;
  const say = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const failures: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) failures.push(what);
    return ok;
  };

  const dir = mkdtempSync(join(tmpdir(), "pvscsi-migdemo-"));
  liveDirs.add(dir);
  const aImg = join(dir, "a.img");
  const bImg = join(dir, "b.img");
  const shared = (hctl: string, file: string) =>
    `[disk ${hctl}]\nfile = ${file}\nsize = 32M\ncreate = yes\nshareable = yes\n`;
  const ram = "[disk 0:0:2:0]\nsize = 4M\n"; // in A's memory: B cannot reach it
  const confA = shared("0:0:0:0", aImg) + shared("0:0:1:0", bImg) + ram;
  const confB = shared("1:0:3:0", bImg) + shared("2:0:0:7", aImg);
  const sockA = join(dir, "a.sock");
  const sockB = join(dir, "b.sock");
  const ioCfg = join(dir, "io.cfg");
  writeFileSync(ioCfg, `name = "io"\nmemory = 16\nvscsi = [ '0:0:0:0,0:0:0:0', '0:0:1:0,0:0:1:0' ]\n`);
  const pinnedCfg = join(dir, "pinned.cfg");
  writeFileSync(pinnedCfg, `name = "pinned"\nmemory = 16\nvscsi = [ '0:0:2:0,0:0:0:0' ]\n`);

  const xl = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await cli(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
    return { code, out: out.join(""), err: err.join("") };
  };
  const show = (text: string) => {
    for (const line of text.split("\n")) if (line !== "") say(`    ${line}`);
  };

  let a: Host | undefined;
  let b: Host | undefined;
  const servers: ControlServer[] = [];
  let stop = false;
  let writer: Promise<void> | undefined;
  let fio: Promise<unknown> | undefined;
  let resumed: MigrateDemoResult["resumed"] = null;
  const acked: number[] = [];
  let ackedOnTarget = 0;
  try {
    say(`hosts in ${dir}`);
    // One after the other: both configs say `create = yes` for the shared images, and two hosts
    // creating the same file at the same instant race (the loser's O_EXCL open fails with EEXIST
    // and its disk cannot serve data). A creates them; B finds them.
    a = await Host.start({
      hostConfig: { text: confA, source: "a.conf", baseDir: dir },
      guestRoots: join(dir, "roots-a"),
    });
    b = await Host.start({
      hostConfig: { text: confB, source: "b.conf", baseDir: dir },
      guestRoots: join(dir, "roots-b"),
    });
    for (const [h, s] of [
      [a, sockA],
      [b, sockB],
    ] as const) {
      const server = new ControlServer(s, hostControlHandler(h));
      await server.listen();
      servers.push(server);
    }
    say("host A: a.img 0:0:0:0, b.img 0:0:1:0, RAM disk 0:0:2:0 | host B: b.img 1:0:3:0, a.img 2:0:0:7");
    const A = a;
    const B = b;
    const has = (h: Host, name: string) => h.list().some((r) => r.name === name);

    // 1. The guest, the writer and fio.
    const created = await xl("xl", "--socket", sockA, "create", ioCfg);
    if (!check(created.code === 0, `xl create io failed: ${created.err.trim()}`)) return done();
    fio = A.guestCommand("io", [
      "fio",
      "--rw=randwrite",
      "--bs=4k",
      "--iodepth=8",
      "--runtime=60",
      "--filename=/dev/sdb",
    ]).catch((e: Error) => ({ exitCode: -1, stdout: "", stderr: e.message }));
    let migrated = false;
    const writerFailures: string[] = [];
    writer = (async () => {
      // One block per command, in order; a command that failed (the guest moved under it: its
      // process stayed on A) is tried again at the same block where the guest now is. Bounded.
      for (let i = 0, tries = 0; !stop && tries < 20_000; tries++) {
        const where = has(A, "io") ? A : B;
        if (where === A && i >= SOURCE_BLOCKS) {
          await sleep(50); // enough on the source: wait for the migration (the disk has room)
          continue;
        }
        const r = await where
          .guestCommand("io", ["dd", "if=pattern:7", "of=/dev/sda", "bs=4k", "count=1", `seek=${i}`])
          .catch((e: Error) => ({ exitCode: -1, stdout: "", stderr: e.message }));
        if (r.exitCode === 0) {
          acked.push(i++);
          if (where === B) ackedOnTarget++;
          if (migrated && ackedOnTarget >= after) break;
        } else {
          writerFailures.push(r.stderr.trim());
          await sleep(25);
        }
      }
    })();
    const io = A.resolveDomain("io").handle.domid;
    const served = async () =>
      (await A.backendReport()).reduce((n, v) => n + (v.frontendDomid === io ? v.stats.requests : 0), 0);
    // Bounded: 30 s. The writer has some blocks on A too, so the check on B covers data written there.
    for (let i = 0; i < 300 && (acked.length < 5 || (await served()) < warmup); i++) await sleep(100);
    const before = acked.length;
    say(`io on A: the writer acknowledged ${before} block(s), the vhosts served ${await served()} requests`);

    // 2. The live migration, through the CLI.
    say(`$ pvscsi xl --socket ${sockA} migrate io ${sockB}`);
    const m = await xl("xl", "--socket", sockA, "migrate", "io", sockB);
    show(m.out + m.err);
    migrated = true;
    if (!check(m.code === 0, `xl migrate io exited ${m.code}`)) return done();
    const renumbered = [...m.out.matchAll(/was (\S+) on the source, is (\S+) on the target/g)];
    check(
      renumbered.length === 2 && renumbered.every((r) => r[1] !== r[2]),
      "both devices renumbered on the target",
    );
    check(/kernel resumed on the target/.test(m.out), "the kernel was resumed on the target (not booted)");
    const f = (await fio) as { stderr: string };
    say(`fio on A: ${f.stderr.trim().split("\n").pop()}`);
    check(/kernel exited/.test(f.stderr), "fio's process ended with its kernel on A");

    // 3. The writer on B; the carried requests complete; the data is verified.
    for (let i = 0; i < 1200 && ackedOnTarget < after; i++) await sleep(100);
    stop = true;
    await writer;
    const io2 = B.resolveDomain("io").handle.domid;
    let st = await B.resumeStats(io2);
    for (let i = 0; i < 300 && st.carriedCompletions < st.carried; i++) {
      await sleep(100);
      st = await B.resumeStats(io2);
    }
    resumed = st;
    say(
      `resume stats on B: ${st.resumes} resume(s), ${st.carried} request(s) carried over, ` +
        `${st.resetCompletions} completed with DID_RESET, ${st.resetRetries} retried after DID_RESET; ` +
        `carried completed ${st.carriedCompletions}, of them failed ${st.carriedFailures}`,
    );
    check(st.resumes === 1, "one resume on the target");
    check(st.carried > 0, "requests were in flight at the stop-and-copy (carried > 0)");
    check(st.resetRetries === st.resetCompletions, "every DID_RESET completion was retried");
    check(st.carriedCompletions === st.carried, "every carried request completed on the target");
    check(st.carriedFailures === 0, "no carried request failed");

    const n = acked.length;
    const inOrder = acked.every((v, k) => v === k);
    check(inOrder, "the writer's blocks were acknowledged in order");
    check(n - ackedOnTarget > 0, "the writer acknowledged blocks on the source before the migration");
    check(ackedOnTarget >= after, `the writer acknowledged ${after} blocks on the target`);
    const onDisk = await B.guestCommand("io", ["dd", "if=/dev/sda", "bs=4k", `count=${n}`, "status=hash"]);
    const pattern = await B.guestCommand("io", [
      "dd",
      "if=pattern:7",
      "of=/dev/null",
      "bs=4k",
      `count=${n}`,
      "status=hash",
    ]);
    const ok =
      onDisk.stdout.includes(`${n}+0 records in`) &&
      sha(onDisk.stdout) !== undefined &&
      sha(onDisk.stdout) === sha(pattern.stdout);
    say(
      `writer: ${n} blocks acknowledged (${n - ackedOnTarget} on A, ${ackedOnTarget} on B), in order: ${inOrder}; ` +
        `${writerFailures.length} attempt(s) failed while the guest moved (its process ended with the kernel ` +
        "on A, or the guest was not yet on B) and were made again at the same block",
    );
    say(`  sha256 of blocks 0..${n - 1} of /dev/sda on B: ${sha(onDisk.stdout) ?? "(none)"}`);
    say(`  sha256 of the pattern's blocks 0..${n - 1}:     ${sha(pattern.stdout) ?? "(none)"}`);
    say(`  data verified: ${ok}`);
    check(ok, "the acknowledged blocks read back on the target equal the pattern (sha256)");

    // 4. A refused migration: the RAM disk is not reachable from B.
    const p = await xl("xl", "--socket", sockA, "create", pinnedCfg);
    if (!check(p.code === 0, `xl create pinned failed: ${p.err.trim()}`)) return done();
    say(`$ pvscsi xl --socket ${sockA} migrate pinned ${sockB}`);
    const r = await xl("xl", "--socket", sockA, "migrate", "pinned", sockB);
    show(r.out + r.err);
    say(`    (exit status ${r.code})`);
    check(r.code !== 0, "the migration of pinned was refused (non-zero exit)");
    check(/refused before the guest was suspended/.test(r.err), "the refusal came before the suspend");
    const still = has(A, "pinned") && !has(B, "pinned");
    const w = await A.guestCommand("pinned", ["dd", "if=pattern:3", "of=/dev/sda", "bs=4k", "count=4"]);
    say(
      `pinned: listed on A ${has(A, "pinned")}, on B ${has(B, "pinned")}; a write on A exits ${w.exitCode}`,
    );
    check(still, "pinned is still on A and not on B");
    check(w.exitCode === 0, "pinned's I/O goes on, on A");
    return done();
  } catch (e) {
    failures.push(`error: ${(e as Error).message}`);
    return done();
  } finally {
    stop = true;
    await writer?.catch(() => undefined);
    for (const s of servers) await s.close().catch(() => undefined);
    await a?.shutdown().catch(() => undefined);
    await b?.shutdown().catch(() => undefined);
    if (options.keep !== true) rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  }

  function done(): MigrateDemoResult {
    return { failures, blocks: acked.length, blocksOnTarget: ackedOnTarget, resumed };
  }
}

function option(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return dflt;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`migrate-under-io: ${name} wants a whole number ≥ 1\n`);
    process.exit(2);
  }
  return n;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  // Ctrl-C: the hosts' workers end with the process; their folder (images, sockets) goes too.
  for (const sig of ["SIGINT", "SIGTERM"] as const)
    process.once(sig, () => {
      for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
      process.stderr.write(`migrate-under-io: interrupted (${sig})\n`);
      process.exit(130);
    });
  const r = await runMigrateDemo({
    warmupRequests: option("--warmup", 500),
    blocksAfter: option("--after", 20),
    keep: process.argv.includes("--keep"),
  });
  if (r.failures.length === 0) process.stdout.write("migrate-under-io: every check held\n");
  else process.stderr.write(`migrate-under-io: FAILED:\n${r.failures.map((x) => `  - ${x}`).join("\n")}\n`);
  process.exit(r.failures.length === 0 ? 0 : 1);
}
