import { type DomainHandle, handleConfig } from "./domain-handle.js";
import { DOM_ALIVE, type DomainLayout, domainLayout, registryWord } from "./domain-layout.js";
import { XEN_PAGE_SHIFT } from "./page.js";

/**
 * Typed-array views over one domain's buffers, built once per thread and domain so that no
 * operation creates a view. The grant and event-channel cores work on views; which of them a
 * thread may act as, and which it may only reach, is decided by `DomainContext`.
 */
export class DomainView {
  readonly domid: number;
  readonly generation: number;
  readonly name: string;
  readonly frames: number;
  readonly grantEntries: number;
  readonly maxPorts: number;
  readonly vcpus: number;
  readonly maptrackEntries: number;
  readonly layout: DomainLayout;
  /** The domain's RAM, byte by byte. */
  readonly memory: Uint8Array;
  /** The same RAM as words, for copies of whole words. */
  readonly memoryWords: Int32Array;
  /** `grant_entry_v1[]` as words: entry `ref` is words `2 * ref` (flags|domid) and `2 * ref + 1` (frame). */
  readonly grantTable: Int32Array;
  readonly sharedInfo: Int32Array;
  readonly xen: Int32Array;
  readonly kernel: Int32Array;
  readonly registry: Int32Array;
  /** The registry word this domain has while it is alive; any other value means it is gone. */
  readonly liveWord: number;
  readonly handle: DomainHandle;
  /** Views of single frames, made on first use and kept (see {@link frameView}). */
  private readonly frameViews: Array<Uint8Array | undefined>;

  /** Build views over `handle`, which must already be checked (`checkDomainHandle`). */
  constructor(handle: DomainHandle) {
    const c = handleConfig(handle);
    this.handle = handle;
    this.domid = handle.domid;
    this.generation = handle.generation;
    this.name = handle.name;
    this.frames = c.frames;
    this.grantEntries = c.grantEntries;
    this.maxPorts = c.maxPorts;
    this.vcpus = c.vcpus;
    this.maptrackEntries = c.maptrackEntries;
    this.layout = domainLayout(c);
    // In machine-memory mode the RAM is a range of a larger buffer; views start at its offset.
    const offset = handle.machine?.byteOffset ?? 0;
    this.memory = new Uint8Array(handle.memory, offset, c.frames << XEN_PAGE_SHIFT);
    this.memoryWords = new Int32Array(handle.memory, offset, c.frames << (XEN_PAGE_SHIFT - 2));
    this.grantTable = new Int32Array(handle.grantTable);
    this.sharedInfo = new Int32Array(handle.sharedInfo);
    this.xen = new Int32Array(handle.xen);
    this.kernel = new Int32Array(handle.kernel);
    this.registry = new Int32Array(handle.registry);
    this.liveWord = registryWord(handle.generation, DOM_ALIVE);
    this.frameViews = new Array<Uint8Array | undefined>(this.frames);
  }

  /**
   * A view of exactly frame `frame` (in range: the caller checks), created the first time and
   * reused after, so whole-page copies can use the engine's memcpy (`set`) without creating a
   * view per copy.
   */
  frameView(frame: number): Uint8Array {
    let v = this.frameViews[frame];
    if (v === undefined) {
      v = this.memory.subarray(frame << XEN_PAGE_SHIFT, (frame + 1) << XEN_PAGE_SHIFT);
      this.frameViews[frame] = v;
    }
    return v;
  }

  /** Whether this incarnation of the domain still exists (one atomic load). */
  alive(): boolean {
    return Atomics.load(this.registry, this.domid) === this.liveWord;
  }
}
