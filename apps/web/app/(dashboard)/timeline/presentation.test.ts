import { describe, expect, it } from "vitest";
import {
  actorKindPresentation,
  DECISIONS,
  decisionPresentation,
  formatDuration,
  formatRows,
} from "./presentation.ts";

describe("timeline presentation", () => {
  it("colours decisions as the product describes", () => {
    expect(decisionPresentation("allowed").tone).toBe("green");
    expect(decisionPresentation("blocked").tone).toBe("red");
    expect(decisionPresentation("masked").tone).toBe("amber");
    expect(decisionPresentation("pending_approval")).toMatchObject({
      label: "Pending approval",
      tone: "blue",
    });
    expect(new Set(DECISIONS.map((d) => d.value)).size).toBe(7);
  });

  it("names actor kinds, and shows unknown kinds as they are", () => {
    expect(actorKindPresentation("ai_agent").label).toBe("AI agent");
    expect(actorKindPresentation("robot")).toEqual({ label: "robot", tone: "neutral" });
  });

  it("formats durations and row counts", () => {
    expect(formatDuration(null)).toBeNull();
    expect(formatDuration(0.42)).toBe("0.42 ms");
    expect(formatDuration(3.14159)).toBe("3.1 ms");
    expect(formatDuration(250.4)).toBe("250 ms");
    expect(formatDuration(1234)).toBe("1.23 s");
    expect(formatRows(1)).toBe("1 row");
    expect(formatRows(12345)).toBe("12,345 rows");
  });
});
