import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { PvscsiError } from "../xen/errors.js";

/**
 * Advisory locks on the files behind emulated devices (disk images, tape cartridges, a changer's
 * state), so that two `pvscsi up` hosts never write one image at once — what QEMU does with its
 * image locking (`file.locking`, OFD `fcntl` locks in `block/file-posix.c`).
 *
 * Node has no `fcntl`/`flock`, so a lock is a small file created with `O_EXCL` in a per-user lock
 * folder (never next to the user's image): its name is the image's device and inode, so two paths
 * to one file (a symlink, a hard link) take the same lock; its content names the holder (pid,
 * host, path). A lock whose holder process is gone is stale and taken over, as a crashed QEMU's
 * locks vanish with it. Within one process, each lock also has a token, so two hosts in the same
 * process (tests, the library) exclude each other too.
 */

/** Who holds a lock, as written in the lock file. */
export interface LockHolder {
  readonly pid: number;
  /** The holder's name for itself (e.g. its control socket), for the error message. */
  readonly owner: string;
  readonly path: string;
  readonly token: string;
}

/** A held lock; {@link ImageLock.release} gives it back (once; later calls do nothing). */
export interface ImageLock {
  readonly path: string;
  release(): void;
}

/** Options of {@link lockImage}. */
export interface LockOptions {
  /** What to call this holder in another host's error message (default: `pid <pid>`). */
  readonly owner?: string;
  /** The lock folder (default {@link defaultLockDir}). */
  readonly dir?: string;
  /**
   * Lock the file `name` inside the folder `path` rather than the file `path` itself: for a file
   * that may not exist yet (a changer's state file, written on the first move; the folder may not
   * exist either). Keyed on the real path (symlinks of the existing part resolved) rather than an
   * inode, since the file's inode does not exist yet.
   */
  readonly name?: string;
}

/** `$PVSCSI_LOCK_DIR`, else `$XDG_RUNTIME_DIR/pvscsi-locks`, else `<tmpdir>/pvscsi-locks-<uid>`. */
export function defaultLockDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PVSCSI_LOCK_DIR) return env.PVSCSI_LOCK_DIR;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, "pvscsi-locks");
  const uid = typeof process.getuid === "function" ? process.getuid() : 0;
  return join(tmpdir(), `pvscsi-locks-${uid}`);
}

/** Tokens of the locks this process holds, by lock file. */
const heldHere = new Map<string, string>();

/**
 * Take the lock on the existing file at `path`. Throws `ESTATE` naming the file and the holder
 * when another live holder has it (unless the caller declared the device shareable and did not
 * ask). Bounded: at most a few tries when racing a stale lock's removal.
 */
export function lockImage(path: string, options: LockOptions = {}): ImageLock {
  let key: string;
  if (options.name === undefined) {
    const st = statSync(path);
    key = `${st.dev}-${st.ino}`;
  } else {
    key = `path-${hashOf(realPathOf(resolve(path, options.name)))}`;
  }
  const dir = options.dir ?? defaultLockDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${key}.lock`);
  const shown = options.name === undefined ? path : join(path, options.name);
  const me: LockHolder = {
    pid: process.pid,
    owner: options.owner ?? `pid ${process.pid}`,
    path: shown,
    token: randomBytes(8).toString("hex"),
  };
  for (let attempt = 0; attempt < 4; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, "wx", 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const holder = readHolder(file);
      if (holder !== null && isLive(holder)) {
        throw new PvscsiError(
          "ESTATE",
          `${shown}: in use by another pvscsi host (${holder.owner}, pid ${holder.pid}, as ${holder.path}); declare the device 'shareable = yes' in both host configs to share it`,
        );
      }
      removeQuietly(file); // stale: its holder is gone
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me));
    } finally {
      closeSync(fd);
    }
    heldHere.set(file, me.token);
    let released = false;
    return {
      path: shown,
      release() {
        if (released) return;
        released = true;
        if (heldHere.get(file) === me.token) {
          heldHere.delete(file);
          const now = readHolder(file);
          if (now?.token === me.token) removeQuietly(file);
        }
      },
    };
  }
  throw new PvscsiError("ESTATE", `${shown}: could not take its lock in ${dir} (it kept changing)`);
}

/** `p` with its longest existing prefix resolved by `realpath` (the rest may not exist yet). */
function realPathOf(p: string): string {
  let head = p;
  let tail = "";
  for (;;) {
    try {
      return join(realpathSync(head), tail);
    } catch {
      const parent = dirname(head);
      if (parent === head) return p;
      tail = tail === "" ? basename(head) : join(basename(head), tail);
      head = parent;
    }
  }
}

/** A file-name-safe digest of `name`. */
function hashOf(name: string): string {
  return createHash("sha256").update(name).digest("hex").slice(0, 16);
}

function readHolder(file: string): LockHolder | null {
  try {
    const h = JSON.parse(readFileSync(file, "utf8")) as Partial<LockHolder>;
    if (typeof h.pid !== "number" || typeof h.token !== "string") return null;
    return {
      pid: h.pid,
      owner: typeof h.owner === "string" ? h.owner : `pid ${h.pid}`,
      path: typeof h.path === "string" ? h.path : "?",
      token: h.token,
    };
  } catch {
    return null; // half-written or unreadable: treated as stale
  }
}

/** Whether the holder still exists: another live process, or a lock this process still holds. */
function isLive(h: LockHolder): boolean {
  if (h.pid === process.pid) return [...heldHere.values()].includes(h.token);
  try {
    process.kill(h.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // alive, but another user's
  }
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already removed by whoever raced us.
  }
}
