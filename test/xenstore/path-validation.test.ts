import { describe, expect, it } from "vitest";
import {
  canonicalize,
  checkedWatchPath,
  isChildOrSelf,
  isValidPath,
  parentPath,
  relativeTo,
} from "../../src/xenstore/path.js";
import { errnoOf, storeWithGuests } from "../_support/xenstore.js";

/** docs/misc/xenstore.txt: which paths are valid, and how relative paths resolve. */
describe("path validation", () => {
  it("accepts absolute paths of A-Za-z0-9-/_@ up to 3072 bytes", () => {
    for (const p of ["/", "/local", "/local/domain/0/backend/vscsi/1/0/vscsi-devs/dev-0/p-dev", "/a_b-c@d"]) {
      expect(isValidPath(p), p).toBe(true);
    }
    expect(isValidPath(`/${"a".repeat(3071)}`)).toBe(true);
  });

  it("rejects empty, relative, doubled or trailing slashes, bad characters and over-long paths", () => {
    for (const p of [
      "",
      "local",
      "//",
      "/a//b",
      "/a/",
      "/a b",
      "/a.b",
      "/a:b",
      "/é",
      `/${"a".repeat(3072)}`,
    ]) {
      expect(isValidPath(p), JSON.stringify(p)).toBe(false);
    }
  });

  it("resolves a relative path against /local/domain/<domid>", () => {
    expect(canonicalize(7, "device/vscsi/0")).toBe("/local/domain/7/device/vscsi/0");
    expect(canonicalize(7, "/abs")).toBe("/abs");
    expect(canonicalize(7, "@releaseDomain")).toBe("@releaseDomain");
    expect(relativeTo("/local/domain/7", "/local/domain/7/device")).toBe("device");
    expect(relativeTo("/local/domain/7", "/local/domain/7")).toBe("");
  });

  it("is_child: a path is below itself and below /, and prefixes must end at a slash", () => {
    expect(isChildOrSelf("/a/b", "/a")).toBe(true);
    expect(isChildOrSelf("/a", "/a")).toBe(true);
    expect(isChildOrSelf("/anything", "/")).toBe(true);
    expect(isChildOrSelf("/ab", "/a")).toBe(false);
    expect(parentPath("/a/b")).toBe("/a");
    expect(parentPath("/a")).toBe("/");
  });

  it("special watch paths start with @ and are at most 2048 bytes", () => {
    expect(checkedWatchPath(0, "@introduceDomain")).toEqual({ path: "@introduceDomain", relative: false });
    expect(checkedWatchPath(3, "x")).toEqual({ path: "/local/domain/3/x", relative: true });
    expect(errnoOf(() => checkedWatchPath(0, `@${"a".repeat(2048)}`))).toBe("EINVAL");
  });

  it("the store answers EINVAL for an invalid path, including a special one where a node is meant", () => {
    const { dom0 } = storeWithGuests([]);
    for (const p of ["", "/a/", "/a//b", "@releaseDomain", "/bad char"]) {
      expect(
        errnoOf(() => dom0.read(p)),
        p,
      ).toBe("EINVAL");
      expect(
        errnoOf(() => dom0.write(p, "x")),
        p,
      ).toBe("EINVAL");
    }
    expect(errnoOf(() => dom0.rm("/"))).toBe("EINVAL");
  });
});
