import { describe, expect, it } from "vitest";
import { Hypervisor } from "../../src/hypervisor/index.js";

describe("frame allocator", () => {
  it("hands out each frame once, lowest first, reuses freed frames, and reports exhaustion", () => {
    const hv = new Hypervisor();
    hv.createDomain({ domid: 0, name: "dom0", frames: 40 });
    const ctx = hv.context(0);
    const frames = Array.from({ length: 40 }, () => ctx.frames.alloc());
    expect(frames).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(ctx.frames.alloc()).toBe(-1);
    expect(ctx.frames.allocatedCount()).toBe(40);
    ctx.frames.free(33);
    ctx.frames.free(3);
    expect(ctx.frames.alloc()).toBe(3);
    expect(ctx.frames.alloc()).toBe(33);
    expect(ctx.frames.isAllocated(39)).toBe(true);
  });

  it("is shared by every context of the domain (one bitmap in shared memory)", () => {
    const hv = new Hypervisor();
    hv.createDomain({ domid: 0, name: "dom0", frames: 4 });
    const a = hv.context(0);
    const b = hv.context(0);
    expect([a.frames.alloc(), b.frames.alloc(), a.frames.alloc(), b.frames.alloc()]).toEqual([0, 1, 2, 3]);
    expect(a.frames.alloc()).toBe(-1);
  });

  it("treats a double free or a bad frame number as the caller's bug", () => {
    const hv = new Hypervisor();
    hv.createDomain({ domid: 0, name: "dom0", frames: 4 });
    const ctx = hv.context(0);
    const f = ctx.frames.alloc();
    ctx.frames.free(f);
    expect(() => ctx.frames.free(f)).toThrow(/freed but not allocated/);
    expect(() => ctx.frames.free(4)).toThrow(/frame must be an integer in \[0, 3\]/);
  });
});
