import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** One LUN of a tgtd target: a sparse disk image of `size` bytes, or a tape/changer. */
export interface TgtdLun {
  readonly lun: number;
  readonly size?: number;
  /** tgtadm --device-type; default disk. */
  readonly deviceType?: "disk" | "tape" | "changer";
}

/** A tgtd on 127.0.0.1 with a control port of its own, stopped by {@link Tgtd.stop}. */
export interface Tgtd {
  readonly port: number;
  readonly control: number;
  readonly iqn: string;
  readonly child: ChildProcess;
  readonly dir: string;
  /** Run tgtadm against this daemon. */
  tgtadm(...args: string[]): Promise<string>;
  /** Add a LUN to target 1 (a sparse image in {@link dir}), as `tgtadm --op new --mode logicalunit`. */
  addLun(l: TgtdLun): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Start `tgtd -f` on 127.0.0.1:`port` (control port `control`) with one target `iqn` and its
 * LUNs, bound to every initiator address, or only to the initiator names in `allow`. The daemon's lifetime is bounded:
 * it is killed after `maxSeconds` whatever happens.
 */
export async function startTgtd(options: {
  port: number;
  control: number;
  iqn: string;
  luns: readonly TgtdLun[];
  allow?: readonly string[];
  maxSeconds?: number;
}): Promise<Tgtd> {
  const dir = mkdtempSync(join(tmpdir(), "pvscsi-tgtd-"));
  const child = spawn(
    "timeout",
    [
      String(options.maxSeconds ?? 600),
      "tgtd",
      "-f",
      "-C",
      String(options.control),
      "--iscsi",
      `portal=127.0.0.1:${options.port}`,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => {
    log += d;
  });
  const tgtadm = async (...args: string[]): Promise<string> =>
    (await exec("tgtadm", ["-C", String(options.control), ...args], { timeout: 10_000 })).stdout;
  // Wait (bounded) for the control socket to answer.
  for (let i = 0; ; i++) {
    try {
      await tgtadm("--op", "show", "--mode", "system");
      break;
    } catch (e) {
      if (i >= 50 || child.exitCode !== null) {
        child.kill();
        throw new Error(`tgtd did not start: ${(e as Error).message}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await tgtadm("--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "1", "-T", options.iqn);
  const addLun = async (l: TgtdLun): Promise<void> => {
    const img = join(dir, `lun${l.lun}.img`);
    writeFileSync(img, "");
    truncateSync(img, l.size ?? 64 * 1024 * 1024);
    await tgtadm(
      "--lld",
      "iscsi",
      "--op",
      "new",
      "--mode",
      "logicalunit",
      "--tid",
      "1",
      "--lun",
      String(l.lun),
      "-b",
      img,
      ...(l.deviceType && l.deviceType !== "disk" ? ["--device-type", l.deviceType] : []),
    );
  };
  for (const l of options.luns) await addLun(l);
  // tgtd admits an initiator that matches any ACL: an address one (ALL) or a name one.
  if (options.allow === undefined)
    await tgtadm("--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL");
  for (const name of options.allow ?? [])
    await tgtadm(
      "--lld",
      "iscsi",
      "--op",
      "bind",
      "--mode",
      "target",
      "--tid",
      "1",
      "--initiator-name",
      name,
    );
  return {
    port: options.port,
    control: options.control,
    iqn: options.iqn,
    child,
    dir,
    tgtadm,
    addLun,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        await tgtadm("--op", "delete", "--mode", "target", "--tid", "1", "--force").catch(() => "");
        await tgtadm("--op", "delete", "--mode", "system").catch(() => "");
        const t = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
