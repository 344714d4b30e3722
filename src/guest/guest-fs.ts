import { lstat, mkdir, open, readlink, realpath, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { defaultStateDir } from "../targets/inventory/state-dir.js";

/**
 * A guest path that cannot be used: it leads outside the guest's filesystem (a `..` above its
 * root, or a symlink pointing out of it), or the host refused it. `message` is the
 * `<path>: <reason>` part of a tool's diagnostic, as coreutils and GNU tar print them
 * (`tar: /etc/passwd: outside the guest's filesystem`).
 */
export class GuestPathError extends Error {
  /** `reason` as errno text ("No such file or directory") or "outside the guest's filesystem". */
  constructor(
    readonly guestPath: string,
    readonly reason: string,
  ) {
    super(`${guestPath}: ${reason}`);
    this.name = "GuestPathError";
  }
}

/** Why a path is refused when it would leave the root. */
export const OUTSIDE = "outside the guest's filesystem";

/**
 * Where a guest's files live unless its config names a `guest_root`:
 * `<state>/guests/<name>/root`, `<state>` as {@link defaultStateDir} finds it.
 */
export function defaultGuestRoot(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(defaultStateDir(env), "guests", name, "root");
}

/** Errno codes as the C library's `strerror` words them, for tool-like messages. */
const ERRNO_TEXT: Record<string, string> = {
  ENOENT: "No such file or directory",
  EEXIST: "File exists",
  EISDIR: "Is a directory",
  ENOTDIR: "Not a directory",
  EACCES: "Permission denied",
  ENOSPC: "No space left on device",
  ELOOP: "Too many levels of symbolic links",
};

/** The `strerror` text of a Node.js file-system error (its message otherwise). */
export function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code !== undefined && ERRNO_TEXT[code] !== undefined) return ERRNO_TEXT[code];
  return e instanceof Error ? e.message : String(e);
}

/**
 * A guest's private filesystem: a folder of dom0's (its root) that every guest tool reaches only
 * through this class. Guest paths are resolved as a chroot'ed process sees them (chroot(2)):
 * absolute paths start at the root, relative ones at the working directory, which is the root.
 * A path is refused when its `..` components climb above the root, or when the deepest part of it
 * that exists resolves (realpath(3), following every symlink) to somewhere outside the root —
 * the check `openat2(RESOLVE_IN_ROOT)` makes in Linux, done here before each access. The root
 * is created (with its parents) on first use.
 */
export class GuestFs {
  /** The root as given (absolute). */
  readonly root: string;
  private realRoot: Promise<string> | null = null;

  /**
   * @param root the host folder that is the guest's `/` (made absolute against the process's
   *   working directory).
   * @param cwd the guest's working directory, a guest path (default `/`).
   */
  constructor(
    root: string,
    readonly cwd = "/",
  ) {
    this.root = resolve(root);
  }

  /**
   * dom0's own filesystem, for the tools run directly against dom0's devices (`directExec`): the
   * root is `/` and the working directory the process's, so host paths mean what they say.
   */
  static hostView(cwd = process.cwd()): GuestFs {
    return new GuestFs("/", cwd);
  }

  /** The root's real path, creating the folder on first use. */
  private async base(): Promise<string> {
    if (this.realRoot === null) {
      const root = this.root;
      this.realRoot = (async () => {
        await mkdir(root, { recursive: true });
        return realpath(root);
      })();
      this.realRoot.catch(() => {
        this.realRoot = null; // a later call may succeed (the folder made meanwhile)
      });
    }
    return this.realRoot;
  }

  /**
   * The guest path's components after `.` and `..` are applied, from the root; a `..` above the
   * root is refused (a chroot'ed process would stay at `/`; refusing says what happened).
   */
  components(path: string): string[] {
    if (path === "") throw new GuestPathError(path, "No such file or directory");
    const parts = isAbsolute(path) ? [] : this.cwd.split("/").filter((c) => c !== "" && c !== ".");
    for (const c of path.split("/")) {
      if (c === "" || c === ".") continue;
      if (c === "..") {
        if (parts.length === 0) throw new GuestPathError(path, OUTSIDE);
        parts.pop();
      } else parts.push(c);
    }
    return parts;
  }

  /**
   * The host path of guest `path`, checked to stay inside the root. With `follow` false the last
   * component is not followed when it is a symlink (lstat, readlink, unlink, or creating it), as
   * `O_NOFOLLOW`/`AT_SYMLINK_NOFOLLOW` calls treat it; with `follow` true (open, stat) it must lead
   * inside too. Throws {@link GuestPathError}.
   */
  async resolve(path: string, options: { readonly follow?: boolean } = {}): Promise<string> {
    return this.resolveIn(path, path, options.follow ?? true, 0);
  }

  private async resolveIn(shown: string, path: string, follow: boolean, links: number): Promise<string> {
    const base = await this.base();
    const parts = this.components(path);
    const checked = follow ? parts : parts.slice(0, -1);
    // The deepest existing ancestor decides where the rest lands: realpath it and check.
    for (let n = checked.length; n >= 0; n--) {
      const p = join(base, ...checked.slice(0, n));
      let real: string;
      try {
        real = await realpath(p);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "ENOENT" && code !== "ENOTDIR") throw new GuestPathError(shown, errnoText(e));
        const st = await lstat(p).catch(() => null);
        if (st === null || !st.isSymbolicLink()) continue;
        // A dangling symlink: creating through it would create its target, so its target is
        // checked like any path (Linux gives up after 40 links: MAXSYMLINKS, ELOOP).
        if (links >= 40) throw new GuestPathError(shown, "Too many levels of symbolic links");
        const parent = await realpath(dirname(p)).catch(() => null);
        if (parent === null || !this.inside(base, parent)) throw new GuestPathError(shown, OUTSIDE);
        const target = resolve(parent, await readlink(p));
        if (!this.inside(base, target)) throw new GuestPathError(shown, OUTSIDE);
        const rest = parts.slice(n);
        const guest = `/${[relative(base, target), ...rest].filter((c) => c !== "").join("/")}`;
        return this.resolveIn(shown, guest, follow, links + 1);
      }
      if (!this.inside(base, real)) throw new GuestPathError(shown, OUTSIDE);
      return join(real, ...parts.slice(n));
    }
    return join(base, ...parts);
  }

  private inside(base: string, p: string): boolean {
    return p === base || p.startsWith(base.endsWith(sep) ? base : base + sep);
  }

  /**
   * Write `data` at `offset` of guest file `path` (created, or truncated first when `truncate`),
   * for `pvscsi guest <domain> put`. An existing directory (or a path ending in `/`) receives
   * the file as `name`, as cp(1) copies into a directory. Returns the guest path written.
   */
  async writeChunk(
    path: string,
    offset: number,
    data: Uint8Array,
    truncate: boolean,
    name?: string,
  ): Promise<string> {
    let target = path;
    if (name !== undefined && truncate) {
      const isDir =
        path.endsWith("/") ||
        (await stat(await this.resolve(path))
          .then((s) => s.isDirectory())
          .catch(() => false));
      if (isDir) target = `${path.replace(/\/+$/, "")}/${name}`;
    }
    const host = await this.resolve(target);
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(host, truncate ? "w" : "r+");
    } catch (e) {
      throw new GuestPathError(target, errnoText(e));
    }
    try {
      if (data.length > 0) await fh.write(data, 0, data.length, offset);
    } finally {
      await fh.close();
    }
    return target;
  }

  /**
   * Up to `length` bytes at `offset` of guest file `path`, and the file's size, for
   * `pvscsi guest <domain> get`.
   */
  async readChunk(path: string, offset: number, length: number): Promise<{ data: Uint8Array; size: number }> {
    const host = await this.resolve(path);
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(host, "r");
    } catch (e) {
      throw new GuestPathError(path, errnoText(e));
    }
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw new GuestPathError(path, "Is a directory");
      const n = Math.max(0, Math.min(length, st.size - offset));
      const data = new Uint8Array(n);
      let got = 0;
      while (got < n) {
        const { bytesRead } = await fh.read(data, got, n - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return { data: data.subarray(0, got), size: st.size };
    } finally {
      await fh.close();
    }
  }
}
