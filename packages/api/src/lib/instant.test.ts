import { describe, expect, it } from "vitest";
import { ZInstant } from "./instant.ts";

describe("ZInstant", () => {
  it("takes ISO 8601 date-times with an offset from 1970 up to, not including, 9999", () => {
    const instant = ZInstant();
    for (const ok of ["1970-01-01T00:00:00Z", "2026-01-31T12:00:00+02:00", "9998-12-31T23:59:59.999Z"])
      expect(instant.safeParse(ok).success, ok).toBe(true);
    for (const bad of [
      "9999-12-31T23:59:59-14:00", // year 10000 in UTC
      "9999-01-01T00:00:00Z",
      "0000-01-01T00:00:00+14:00", // year -1 in UTC
      "1969-12-31T23:59:59Z",
      "2026-01-31",
      "yesterday",
    ])
      expect(instant.safeParse(bad).success, bad).toBe(false);
  });

  it("reads bounds relative to now at each parse", () => {
    let now = Date.UTC(2030, 0, 1);
    const future = ZInstant(
      { at: () => now, message: "must be in the future" },
      { at: () => now + 86_400_000, message: "must be within a day" },
    );
    expect(future.safeParse("2030-01-01T12:00:00Z").success).toBe(true);
    expect(future.safeParse("2030-01-02T12:00:00Z").error?.issues[0]?.message).toBe("must be within a day");
    now = Date.UTC(2030, 0, 2);
    expect(future.safeParse("2030-01-01T12:00:00Z").error?.issues[0]?.message).toBe("must be in the future");
  });
});
