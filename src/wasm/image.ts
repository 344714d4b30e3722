import { invalidArgument } from "../xen/errors.js";
import { XEN_PAGE_SIZE } from "../xen/page.js";

/** Bytes of a WebAssembly page: 16 Xen frames. */
export const WASM_PAGE_SIZE = 65536;
/** Xen frames per WebAssembly page. */
export const FRAMES_PER_WASM_PAGE = WASM_PAGE_SIZE / XEN_PAGE_SIZE;

/** What pvscsi needs to know about a driver module before it builds the domain around it. */
export interface WasmImage {
  /** The module's memory import (`env.memory`): pages, and whether it is shared. */
  readonly memory: { readonly minPages: number; readonly maxPages: number | null; readonly shared: boolean };
  /**
   * `__heap_base`: the first byte past the image, stack and static heap. Frames below
   * `ceil(heapBase / 4096)` are the module's own and never handed out by the frame allocator.
   */
  readonly heapBase: number;
  /** Frames the image occupies (from frame 0). */
  readonly imageFrames: number;
  /** Names of the module's exports. */
  readonly exports: readonly string[];
  /** `module.name` of every import, for error messages. */
  readonly imports: readonly string[];
}

/**
 * Read a driver module's layout from its bytes, without running it: its memory import and the
 * value of `__heap_base` (an immutable i32 global wasm-ld exports with `--export=__heap_base`).
 * Needed before instantiation, because instantiating writes the image into the domain's memory,
 * and the frames it covers must be reserved before the domain builder allocates any (the
 * xenstore page). Throws a message a driver author can act on when the module was built
 * without the SDK's link flags.
 */
export function inspectWasmImage(bytes: Uint8Array, what = "wasm kernel"): WasmImage {
  const r = new Reader(bytes, what);
  if (r.u32le() !== 0x6d736100 || r.u32le() !== 1) {
    throw invalidArgument(
      what,
      "a WebAssembly binary (version 1)",
      `${bytes.length} bytes of something else`,
    );
  }
  let memory: WasmImage["memory"] | null = null;
  const imports: string[] = [];
  const exports: string[] = [];
  const globalInit: number[] = [];
  let importedGlobals = 0;
  let heapBaseGlobal = -1;
  while (!r.done()) {
    const id = r.byte();
    const size = r.leb();
    const end = r.pos + size;
    if (id === 2) {
      const n = r.leb();
      for (let i = 0; i < n; i++) {
        const mod = r.name();
        const name = r.name();
        imports.push(`${mod}.${name}`);
        const kind = r.byte();
        if (kind === 0) r.leb();
        else if (kind === 1) {
          r.byte();
          r.limits();
        } else if (kind === 2) {
          const lim = r.limits();
          if (mod === "env" && name === "memory") {
            memory = { minPages: lim.min, maxPages: lim.max, shared: lim.shared };
          }
        } else if (kind === 3) {
          r.byte();
          r.byte();
          importedGlobals++;
        } else r.fail(`unknown import kind ${kind}`);
      }
    } else if (id === 6) {
      const n = r.leb();
      for (let i = 0; i < n; i++) {
        r.byte(); // value type
        r.byte(); // mutability
        // init expression: i32.const N end, or anything else (value unknown)
        const op = r.byte();
        if (op === 0x41) {
          globalInit.push(r.sleb());
          if (r.byte() !== 0x0b) r.fail("global init expression is not a constant");
        } else {
          globalInit.push(Number.NaN);
          while (r.byte() !== 0x0b) {}
        }
      }
    } else if (id === 7) {
      const n = r.leb();
      for (let i = 0; i < n; i++) {
        const name = r.name();
        const kind = r.byte();
        const index = r.leb();
        exports.push(name);
        if (name === "__heap_base" && kind === 3) heapBaseGlobal = index;
      }
    }
    r.pos = end;
  }
  if (memory === null) {
    throw invalidArgument(
      `${what}'s memory`,
      "imported as env.memory (link with -Wl,--import-memory,--shared-memory)",
      "a module that defines or exports its own",
    );
  }
  if (!memory.shared) {
    throw invalidArgument(
      `${what}'s memory`,
      "shared (compile with -matomics -mbulk-memory, link with -Wl,--shared-memory)",
      "an unshared memory",
    );
  }
  const heapBase =
    heapBaseGlobal >= importedGlobals ? globalInit[heapBaseGlobal - importedGlobals] : undefined;
  if (heapBase === undefined || !Number.isInteger(heapBase) || heapBase < 0) {
    throw invalidArgument(
      `${what}'s __heap_base`,
      "an exported constant global (link with -Wl,--export=__heap_base)",
      "no such export",
    );
  }
  return {
    memory,
    heapBase,
    imageFrames: Math.ceil(heapBase / XEN_PAGE_SIZE),
    exports,
    imports,
  };
}

/** A cursor over the module's bytes that names the module in every error. */
class Reader {
  pos = 0;
  constructor(
    private readonly b: Uint8Array,
    private readonly what: string,
  ) {}
  done(): boolean {
    return this.pos >= this.b.length;
  }
  fail(detail: string): never {
    throw invalidArgument(this.what, "a well-formed WebAssembly binary", `${detail} at byte ${this.pos}`);
  }
  byte(): number {
    if (this.pos >= this.b.length) this.fail("truncated");
    return this.b[this.pos++]!;
  }
  u32le(): number {
    return (this.byte() | (this.byte() << 8) | (this.byte() << 16) | (this.byte() << 24)) >>> 0;
  }
  leb(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 5; i++) {
      const x = this.byte();
      v += (x & 0x7f) * mul;
      if ((x & 0x80) === 0) return v;
      mul *= 128;
    }
    return this.fail("LEB128 too long");
  }
  sleb(): number {
    let v = 0;
    let shift = 0;
    let x: number;
    do {
      x = this.byte();
      v |= (x & 0x7f) << shift;
      shift += 7;
    } while (x & 0x80 && shift < 35);
    if (shift < 32 && x & 0x40) v |= -1 << shift;
    return v;
  }
  name(): string {
    const n = this.leb();
    if (this.pos + n > this.b.length) this.fail("truncated name");
    const s = new TextDecoder().decode(this.b.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  limits(): { min: number; max: number | null; shared: boolean } {
    const flags = this.byte();
    const min = this.leb();
    const max = flags & 1 ? this.leb() : null;
    return { min, max, shared: (flags & 2) !== 0 };
  }
}
