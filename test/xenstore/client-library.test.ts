import { describe, expect, it } from "vitest";
import { XenstoreError } from "../../src/xen/errors.js";
import { permsToStrings } from "../../src/xenstore/perms.js";
import { Xenstored } from "../../src/xenstore/xenstored.js";
import { homes, nextTurns, ringPair } from "./_pair.js";

async function errnoOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof XenstoreError) return e.errno;
    throw e;
  }
  throw new Error("expected a xenstore error");
}

/** The client library every domain's code uses, in process (dom0) and over a ring (a guest). */
describe("client library", () => {
  it("reads, writes, makes, lists, removes and sets permissions", async () => {
    const xsd = new Xenstored();
    const c = xsd.client(0);
    await c.write("/a/b", "1");
    await c.mkdir("/a/c");
    expect(await c.read("/a/b")).toBe("1");
    expect(await c.directory("/a")).toEqual(["b", "c"]);
    expect(await c.tryRead("/a/none")).toBeUndefined();
    await c.setPerms("/a/b", ["n0", "r3"]);
    expect(permsToStrings(await c.getPerms("/a/b"))).toEqual(["n0", "r3"]);
    await c.write("/bin", new Uint8Array([0, 1, 255]));
    expect([...(await c.readBytes("/bin"))]).toEqual([0, 1, 255]);
    await c.rm("/a");
    expect(await errnoOf(c.read("/a/b"))).toBe("ENOENT");
    expect(await c.getDomainPath(4)).toBe("/local/domain/4");
    c.close();
    xsd.close();
  });

  it("refusals come back as XenstoreError with xenstored's errno", async () => {
    const xsd = new Xenstored();
    homes(xsd, [1]);
    const { client } = ringPair(xsd, 1);
    expect(await errnoOf(client.read("/tool/xenstored"))).toBe("EACCES");
    expect(await errnoOf(client.introduce(2, 1, 1))).toBe("EACCES");
    expect(await errnoOf(client.write("bad//path", "x"))).toBe("EINVAL");
    client.close();
    xsd.close();
  });

  it("calls a watch callback on registration and on each change, until unwatched", async () => {
    const xsd = new Xenstored();
    const c = xsd.client(0);
    const other = xsd.client(0);
    const seen: string[] = [];
    const h = await c.watch("/w", (path, handle) => seen.push(`${path} ${handle.path}`));
    await other.write("/w/x", "1");
    await other.rm("/w");
    await nextTurns();
    expect(seen).toEqual(["/w /w", "/w/x /w", "/w /w"]);
    await h.unwatch();
    await other.write("/w", "again");
    await nextTurns();
    expect(seen).toHaveLength(3);
    expect(c.watchCount).toBe(0);
    c.close();
    other.close();
    xsd.close();
  });

  it("retries a transaction that hits EAGAIN, and commits the retry", async () => {
    const xsd = new Xenstored();
    const c = xsd.client(0);
    const meddler = xsd.client(0);
    await c.write("/counter", "0");
    let attempts = 0;
    const result = await c.transaction(async (tx) => {
      attempts++;
      const n = Number(await tx.read("/counter"));
      // The first attempt is overtaken by another writer: its commit must fail and run again.
      if (attempts === 1) await meddler.write("/counter", "10");
      await tx.write("/counter", String(n + 1));
      return n;
    });
    expect(attempts).toBe(2);
    expect(result).toBe(10);
    expect(await c.read("/counter")).toBe("11");
    expect(xsd.db.stats().transactions).toBe(0);
    c.close();
    meddler.close();
    xsd.close();
  });

  it("gives up with EAGAIN after maxTransactionAttempts, and aborts when the body throws", async () => {
    const xsd = new Xenstored();
    const c = xsd.client(0, { maxTransactionAttempts: 3 });
    const meddler = xsd.client(0);
    await c.write("/hot", "0");
    let attempts = 0;
    const always = c.transaction(async (tx) => {
      attempts++;
      await tx.read("/hot");
      await meddler.write("/hot", String(attempts));
      await tx.write("/hot", "mine");
    });
    expect(await errnoOf(always)).toBe("EAGAIN");
    expect(attempts).toBe(3);
    await expect(
      c.transaction(async (tx) => {
        await tx.write("/never", "1");
        throw new Error("body failed");
      }),
    ).rejects.toThrow("body failed");
    expect(await c.tryRead("/never")).toBeUndefined();
    expect(xsd.db.stats().transactions).toBe(0);
    c.close();
    meddler.close();
    xsd.close();
  });

  it("fails pending requests when the connection closes", async () => {
    const xsd = new Xenstored({ schedule: () => {} });
    const c = xsd.client(0);
    const p = c.read("/tool");
    expect(c.pendingRequests).toBe(1);
    c.close();
    expect(await errnoOf(p)).toBe("EIO");
    expect(await errnoOf(c.read("/tool"))).toBe("EIO");
    xsd.close();
  });
});
