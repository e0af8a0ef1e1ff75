import { describe, expect, it } from "vitest";
import { createAttemptLimiter } from "./attempt-limiter.ts";

function clocked(options: { maxAttempts: number; windowMs: number; maxKeys?: number }) {
  let time = 1_000_000;
  const limiter = createAttemptLimiter({ ...options, now: () => time });
  return { limiter, advance: (ms: number) => (time += ms) };
}

describe("attempt limiter", () => {
  it("blocks a key after its attempts until the window opened by the first has passed", () => {
    const { limiter, advance } = clocked({ maxAttempts: 3, windowMs: 60_000 });
    for (let i = 0; i < 3; i++) {
      expect(limiter.isBlocked("ada")).toBe(false);
      limiter.record("ada");
      advance(10_000);
    }
    expect(limiter.isBlocked("ada")).toBe(true);
    expect(limiter.isBlocked("bob")).toBe(false);
    advance(29_999); // 59.999 s after the first attempt
    expect(limiter.isBlocked("ada")).toBe(true);
    advance(1);
    expect(limiter.isBlocked("ada")).toBe(false);
    // A new window, with all its attempts.
    limiter.record("ada");
    limiter.record("ada");
    expect(limiter.isBlocked("ada")).toBe(false);
  });

  it("forgets a key on reset and takes back one attempt on forgive", () => {
    const { limiter } = clocked({ maxAttempts: 2, windowMs: 60_000 });
    limiter.record("ada");
    limiter.record("ada");
    expect(limiter.isBlocked("ada")).toBe(true);
    limiter.forgive("ada");
    expect(limiter.isBlocked("ada")).toBe(false);
    limiter.record("ada");
    limiter.reset("ada");
    expect(limiter.isBlocked("ada")).toBe(false);
    limiter.forgive("nobody"); // nothing to take back
    expect(limiter.isBlocked("nobody")).toBe(false);
  });

  it("keeps at most maxKeys keys, forgetting the oldest windows first", () => {
    const { limiter, advance } = clocked({ maxAttempts: 1, windowMs: 60_000, maxKeys: 3 });
    for (const key of ["a", "b", "c"]) {
      limiter.record(key);
      advance(1);
    }
    limiter.record("d");
    expect(["a", "b", "c", "d"].map((k) => limiter.isBlocked(k))).toEqual([false, true, true, true]);
  });
});
