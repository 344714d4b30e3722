/**
 * A deliberately simple model of the store for property tests: a map from path to value of every
 * existing node, with xenstore's rules for parents (write and mkdir create them, rm needs the
 * parent, removing takes the subtree).
 */
export class ModelStore {
  readonly nodes = new Map<string, string>([["/", ""]]);

  clone(): ModelStore {
    const m = new ModelStore();
    for (const [k, v] of this.nodes) m.nodes.set(k, v);
    return m;
  }

  read(path: string): string {
    const v = this.nodes.get(path);
    if (v === undefined) throw Object.assign(new Error(path), { errno: "ENOENT" });
    return v;
  }

  write(path: string, value: string): void {
    this.ensureParents(path);
    this.nodes.set(path, value);
  }

  mkdir(path: string): void {
    this.ensureParents(path);
    if (!this.nodes.has(path)) this.nodes.set(path, "");
  }

  rm(path: string): void {
    if (!this.nodes.has(path)) {
      if (this.nodes.has(parent(path))) return;
      throw Object.assign(new Error(path), { errno: "ENOENT" });
    }
    for (const k of [...this.nodes.keys()]) if (k === path || k.startsWith(`${path}/`)) this.nodes.delete(k);
  }

  directory(path: string): string[] {
    if (!this.nodes.has(path)) throw Object.assign(new Error(path), { errno: "ENOENT" });
    const prefix = path === "/" ? "/" : `${path}/`;
    return [...this.nodes.keys()]
      .filter((k) => k !== "/" && k.startsWith(prefix) && !k.slice(prefix.length).includes("/"))
      .map((k) => k.slice(prefix.length))
      .sort();
  }

  private ensureParents(path: string): void {
    for (let p = parent(path); !this.nodes.has(p); p = parent(p)) this.nodes.set(p, "");
  }
}

function parent(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** What an operation returned, as a comparable string. */
export function outcome(fn: () => unknown): string {
  try {
    const r = fn();
    if (r instanceof Uint8Array) return `ok ${new TextDecoder().decode(r)}`;
    if (Array.isArray(r)) return `ok ${[...r].sort().join(",")}`;
    return "ok";
  } catch (e) {
    const errno = (e as { errno?: string }).errno;
    if (errno === undefined) throw e;
    return errno;
  }
}
