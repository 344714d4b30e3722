import { describe, expect, it } from "vitest";
import { pollBudgetNotice } from "../../src/cli/commands/up.js";

describe("pvscsi up --poll's notice", () => {
  it("says on two cores that only dom0's backend polls", () => {
    expect(pollBudgetNotice(1, 2)).toBe(
      "poll mode: 2 cores; dom0's backend polls, other domains wait on events\n",
    );
  });

  it("says how many domains poll besides dom0 on more cores", () => {
    expect(pollBudgetNotice(3, 4)).toBe(
      "poll mode: 4 cores; dom0's backend polls, so do the first 2 domains created; others wait on events\n",
    );
  });
});
