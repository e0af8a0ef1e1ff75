import { describe, expect, it } from "vitest";
import { AuthFailureLog, type TAuthFailureSummary } from "./auth-failures.ts";

function log(perWindow = 3, maxAddresses = 100) {
  let now = 1_000_000;
  const summaries: TAuthFailureSummary[] = [];
  const failures = new AuthFailureLog({
    perWindow,
    windowMs: 60_000,
    maxAddresses,
    summarise: (s) => summaries.push(s),
    now: () => now,
  });
  return { failures, summaries, advance: (ms: number) => (now += ms) };
}

describe("AuthFailureLog", () => {
  it("records the first failures of a window one by one and summarises the rest when it ends", () => {
    const { failures, summaries, advance } = log();
    const admitted = Array.from({ length: 10 }, () => failures.admit("10.0.0.1"));
    expect(admitted).toEqual([true, true, true, false, false, false, false, false, false, false]);
    // Another address has its own count.
    expect(failures.admit("10.0.0.2")).toBe(true);
    failures.flush();
    expect(summaries).toEqual([]);
    advance(60_000);
    failures.flush();
    expect(summaries).toEqual([{ clientAddr: "10.0.0.1", suppressed: 7, windowMs: 60_000 }]);
    // A new window starts afresh.
    expect(failures.admit("10.0.0.1")).toBe(true);
  });

  it("summarises a window that ended when the address fails again, and everything at close", () => {
    const { failures, summaries, advance } = log(1);
    failures.admit("a");
    failures.admit("a");
    advance(61_000);
    expect(failures.admit("a")).toBe(true);
    expect(summaries).toEqual([{ clientAddr: "a", suppressed: 1, windowMs: 60_000 }]);
    failures.admit("a");
    failures.flush(true);
    expect(summaries.map((s) => s.suppressed)).toEqual([1, 1]);
  });

  it("tracks a bounded number of addresses, summarising the oldest early", () => {
    const { failures, summaries } = log(1, 2);
    failures.admit("a");
    failures.admit("a");
    failures.admit("b");
    failures.admit("c");
    expect(summaries).toEqual([{ clientAddr: "a", suppressed: 1, windowMs: 60_000 }]);
  });
});
