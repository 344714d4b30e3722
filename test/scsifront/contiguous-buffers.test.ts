import { describe, expect, it } from "vitest";
import { Frontend } from "../../src/scsifront/index.js";
import { GuestScsiHost } from "../../src/scsifront/scsi-host.js";
import { twoDomains } from "../../src/testing/index.js";
import { DMA_FROM_DEVICE } from "../../src/vscsiif/index.js";
import type { FrameAllocator } from "../../src/xen/frame-allocator.js";

function consecutive(first: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => first + i);
}

describe("guest data buffers in adjacent frames", () => {
  it("allocContiguous claims the lowest free run, across bitmap words, all or nothing", () => {
    const { front } = twoDomains(128);
    const fa: FrameAllocator = front.frames;
    const before = fa.allocatedCount();
    const a = fa.allocContiguous(5);
    expect(a).toBeGreaterThanOrEqual(0);
    for (const f of consecutive(a, 5)) expect(fa.isAllocated(f)).toBe(true);
    // Punch holes of 1 and 2 frames: a run of 3 skips them.
    const singles = consecutive(fa.allocContiguous(8), 8);
    fa.free(singles[1]!);
    fa.free(singles[4]!);
    fa.free(singles[5]!);
    const b = fa.allocContiguous(3);
    expect(b).toBeGreaterThan(singles[7]!);
    expect(fa.isAllocated(singles[1]!)).toBe(false);
    // A run longer than a 32-bit bitmap word.
    const c = fa.allocContiguous(40);
    expect(c).toBeGreaterThanOrEqual(0);
    for (const f of consecutive(c, 40)) expect(fa.isAllocated(f)).toBe(true);
    // No run that long is left: -1, and nothing was taken.
    const count = fa.allocatedCount();
    expect(fa.allocContiguous(100)).toBe(-1);
    expect(fa.allocContiguous(1000)).toBe(-1);
    expect(fa.allocatedCount()).toBe(count);
    expect(count - before).toBe(5 + 8 - 3 + 3 + 40);
    expect(() => fa.allocContiguous(0)).toThrow(/positive integer/);
    expect(() => fa.allocContiguous(2.5)).toThrow(/positive integer/);
    // Freed one by one, as alloc's frames are.
    for (const f of consecutive(c, 40)) fa.free(f);
    expect(fa.allocContiguous(40)).toBe(c);
  });

  it("a run is found below the hint too (the scan wraps once)", () => {
    const { front } = twoDomains(96);
    const fa = front.frames;
    const low = fa.allocContiguous(20);
    const high = fa.allocContiguous(60); // moves the hint up
    expect(high).toBeGreaterThan(low);
    for (const f of consecutive(low, 20)) fa.free(f);
    fa.alloc(); // the hint now points at the freed region's start
    const again = fa.allocContiguous(10);
    expect(again).toBeGreaterThanOrEqual(low);
    expect(again + 10).toBeLessThanOrEqual(low + 20);
  });

  it("GuestScsiHost gives a command adjacent frames when it can, single frames when it cannot", () => {
    const { front } = twoDomains(64);
    const fa = front.frames;
    const memory = {
      bytes: front.memory,
      allocFrame: () => fa.alloc(),
      allocFrames: (n: number) => fa.allocContiguous(n),
      freeFrame: (f: number) => fa.free(f),
    };
    const frontend = new Frontend({
      backendDomid: 0,
      memory,
      grants: { grantAccess: () => -1, endAccess: () => true },
      notifier: { notify() {} },
    });
    frontend.setFeatureSgGrant(128);
    const host = new GuestScsiHost(0, frontend, memory);
    const c = host.prepareCommand(0, 0, 0, DMA_FROM_DEVICE, 8 * 4096);
    expect(Array.from(c.frames.subarray(0, 8))).toEqual(consecutive(c.frames[0]!, 8));
    host.releasePrepared(c);
    // Fragment all of memory: every other frame taken.
    const taken: number[] = [];
    for (let f = fa.alloc(); f >= 0; f = fa.alloc()) taken.push(f);
    for (let i = 0; i < taken.length; i += 2) fa.free(taken[i]!);
    const d = host.prepareCommand(0, 0, 0, DMA_FROM_DEVICE, 4 * 4096);
    const frames = Array.from(d.frames.subarray(0, 4));
    expect(new Set(frames).size).toBe(4);
    for (const f of frames) expect(fa.isAllocated(f)).toBe(true);
    expect(frames[1]! - frames[0]!).toBeGreaterThan(1);
  });
});
