// Instants clients send: ISO 8601 with an offset, bounded per field. The format alone lets years 0000 and
// 10000 through ("9999-12-31T23:59:59-14:00" is year 10000 in UTC): Postgres stores such an instant, but it
// reads back as an Invalid Date and breaks every list that shows it.
import { z } from "zod";

export interface TInstantBound {
  /** Epoch milliseconds, or a function of the moment of parsing for bounds relative to now. */
  at: number | (() => number);
  message: string;
}

/** The widest range: any instant a person or a tool could mean, far from what the stores cannot read back. */
export const SINCE_1970: TInstantBound = {
  at: Date.UTC(1970, 0, 1),
  message: "must be 1970-01-01T00:00:00Z or later",
};
export const BEFORE_9999: TInstantBound = {
  at: Date.UTC(9999, 0, 1),
  message: "must be before 9999-01-01T00:00:00Z",
};

const valueOf = (bound: TInstantBound) => (typeof bound.at === "number" ? bound.at : bound.at());

/** An ISO 8601 date-time with an offset, from `min` (inclusive) to `max` (exclusive). */
export function ZInstant(min: TInstantBound = SINCE_1970, max: TInstantBound = BEFORE_9999) {
  return z.iso
    .datetime({ offset: true, message: "must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z" })
    .superRefine((text, ctx) => {
      const at = Date.parse(text);
      if (!(at >= valueOf(min))) ctx.addIssue({ code: "custom", message: min.message });
      else if (!(at < valueOf(max))) ctx.addIssue({ code: "custom", message: max.message });
    });
}
