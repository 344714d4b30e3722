import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * Every name a package entry exports carries TSDoc: the library's reference is its types. The
 * entries are read from package.json's `exports`, mapped from `dist/*.js` back to `src/*.ts`.
 */
const root = fileURLToPath(new URL("../../", import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as {
  exports: Record<string, string | { default?: string }>;
};
const entries = Object.entries(pkg.exports)
  .map(([sub, e]) => [sub, typeof e === "string" ? e : e.default] as const)
  .filter((x): x is readonly [string, string] => typeof x[1] === "string" && x[1].startsWith("./dist/"))
  .map(([sub, js]) => [sub, `${root}${js.replace(/^\.\/dist\//, "src/").replace(/\.js$/, ".ts")}`] as const);

describe("the public library is documented", () => {
  it("has an entry per subpath, and TSDoc on every export of every entry", () => {
    expect(entries.length).toBeGreaterThanOrEqual(10);
    const program = ts.createProgram(
      entries.map(([, f]) => f),
      {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        strict: true,
        noEmit: true,
        types: ["node"],
      },
    );
    const checker = program.getTypeChecker();
    const missing: string[] = [];
    for (const [sub, file] of entries) {
      const sf = program.getSourceFile(file);
      expect(sf, file).toBeDefined();
      const mod = checker.getSymbolAtLocation(sf!);
      expect(mod, file).toBeDefined();
      for (const s of checker.getExportsOfModule(mod!)) {
        const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
        const doc = ts.displayPartsToString(target.getDocumentationComment(checker)).trim();
        if (doc === "") missing.push(`pvscsi${sub === "." ? "" : sub.slice(1)}: ${s.name}`);
      }
    }
    expect(missing).toEqual([]);
  }, 120_000);
});
