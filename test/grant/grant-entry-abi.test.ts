import { expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

it("`pvscsi abi --json` lists grant_entry_v1 as grant_table.h lays it out", async () => {
  let out = "";
  const code = await main(["abi", "--json"], { out: (s) => (out += s), err: () => {} });
  expect(code).toBe(0);
  expect(JSON.parse(out).structs.grant_entry_v1).toEqual({
    size: 8,
    fields: { flags: { offset: 0, size: 2 }, domid: { offset: 2, size: 2 }, frame: { offset: 4, size: 4 } },
  });
});
