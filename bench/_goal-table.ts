/**
 * The goal table of the performance issue: rows of figure / pvscsi / reference / ratio / goal /
 * met?, printed as text, kept in the JSON result, and drawn as an SVG (hand-written, no
 * dependencies) for the README.
 */

/** How a ratio is held against its goal: at least (`>=`) or at most (`<=`). */
export type GoalSense = ">=" | "<=";

/** One row of the goal table. A row whose figures were not measured has `ratio: null`. */
export interface GoalRow {
  readonly id: string;
  readonly figure: string;
  /** pvscsi's figure, formatted with its unit (the median over rounds). */
  readonly pvscsi: string;
  /** The reference's figure, formatted, or what the goal is measured against. */
  readonly reference: string;
  /** The median of the per-round ratios (pvscsi / reference), or the figure an absolute goal tests. */
  readonly ratio: number | null;
  readonly sense: GoalSense;
  readonly goal: number;
  /** How the ratio and goal print: a multiple ("×") or a plain number with a unit. */
  readonly unit: "×" | string;
  /** Why the row has no figure (a package missing, a section not run, a failure). */
  readonly note?: string;
}

/** Whether a row's goal is met (null when not measured). */
export function met(r: GoalRow): boolean | null {
  if (r.ratio === null || !Number.isFinite(r.ratio)) return null;
  return r.sense === ">=" ? r.ratio >= r.goal : r.ratio <= r.goal;
}

const fmtNum = (x: number): string =>
  Number.isInteger(x)
    ? x.toLocaleString("en-US")
    : Math.abs(x) >= 100
      ? x.toFixed(0)
      : Math.abs(x) >= 10
        ? x.toFixed(1)
        : x.toFixed(2);

/** A ratio or absolute figure with its unit: "0.42×", "1,210 MB/s". */
export function fmtValue(x: number | null, unit: string): string {
  if (x === null || !Number.isFinite(x)) return "–";
  if (unit === "×") return `${fmtNum(x)}×`;
  return `${Math.abs(x) >= 1000 ? Math.round(x).toLocaleString("en-US") : fmtNum(x)}${unit ? ` ${unit}` : ""}`;
}

/** The goal as text: "≥ 1.0×", "≤ 3×", "= 0 GCs". */
export function fmtGoal(r: GoalRow): string {
  const s = r.sense === ">=" ? "≥" : "≤";
  return `${s} ${r.unit === "×" ? `${r.goal}×` : `${r.goal.toLocaleString("en-US")}${r.unit ? ` ${r.unit}` : ""}`}`;
}

/** Rows as console.table wants them. */
export function tableRows(rows: readonly GoalRow[]): Array<Record<string, string>> {
  return rows.map((r) => {
    const m = met(r);
    return {
      figure: r.figure,
      pvscsi: r.pvscsi,
      reference: r.reference,
      ratio: fmtValue(r.ratio, r.unit),
      goal: fmtGoal(r),
      "met?": m === null ? `not measured${r.note ? ` (${r.note})` : ""}` : m ? "yes" : "NO",
    };
  });
}

const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * The goal table as an SVG bar chart: one bar per row, its length the fraction of the goal
 * reached (ratio / goal for "≥" goals, goal / ratio for "≤" goals; an absolute "≤ 0" goal is
 * reached or not), on a scale where the goal line sits at 1 and bars stop at 2; green when
 * met, red when not, grey when not measured. `caption` is printed under the title (the run's
 * date, mode and load).
 */
export function goalSvg(rows: readonly GoalRow[], title: string, caption: string): string {
  const W = 1040;
  const labelW = 330;
  const barX = labelW + 10;
  const barMax = 380;
  const goalX = barX + barMax / 2;
  const rowH = 30;
  const top = 64;
  const H = top + rows.length * rowH + 40;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="13">`,
    `<title>${esc(`${title}: ${caption}`)}</title>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="42" fill="#555555">${esc(caption)}</text>`,
  );
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const m = met(r);
    let progress = 0;
    if (r.ratio !== null && Number.isFinite(r.ratio)) {
      if (r.goal === 0) progress = m ? 1 : 0;
      else progress = r.sense === ">=" ? r.ratio / r.goal : r.ratio === 0 ? 2 : r.goal / r.ratio;
    }
    const len = Math.max(0, Math.min(2, progress)) * (barMax / 2);
    const colour = m === null ? "#bbbbbb" : m ? "#2e8b57" : "#c0392b";
    parts.push(
      `<text x="${labelW}" y="${y + 19}" text-anchor="end">${esc(r.figure)}</text>`,
      `<rect x="${barX}" y="${y + 6}" width="${len.toFixed(1)}" height="${rowH - 12}" fill="${colour}"/>`,
      `<text x="${barX + barMax + 10}" y="${y + 19}">${esc(
        m === null
          ? `not measured${r.note ? ` (${r.note})` : ""}`
          : `${fmtValue(r.ratio, r.unit)} (goal ${fmtGoal(r)}) ${m ? "met" : "not met"}`,
      )}</text>`,
    );
  });
  const bottom = top + rows.length * rowH;
  parts.push(
    `<line x1="${goalX}" y1="${top}" x2="${goalX}" y2="${bottom}" stroke="#333333" stroke-dasharray="4 3"/>`,
    `<text x="${goalX}" y="${bottom + 16}" text-anchor="middle" fill="#333333">goal</text>`,
    `<text x="${barX}" y="${bottom + 16}" fill="#777777">0</text>`,
    `<text x="${barX + barMax}" y="${bottom + 16}" text-anchor="end" fill="#777777">2× the goal</text>`,
    "</svg>",
  );
  return `${parts.join("\n")}\n`;
}
