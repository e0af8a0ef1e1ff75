import { wireAuditEvent } from "@portcullis/agent/src/link/test-events.ts";
import { describe, expect, it } from "vitest";
import { MAX_STORED_ROW_COUNT, toNewAuditEvent } from "./wire-events.ts";

const AGENT_ID = "00000000-0000-4000-8000-0000000000a1";

describe("toNewAuditEvent", () => {
  it("stores a row count beyond a Postgres integer at its maximum, and exactly in details", () => {
    const huge = toNewAuditEvent(
      { ...wireAuditEvent("COPY big TO STDOUT"), rowCount: 5_000_000_000 },
      AGENT_ID,
    );
    expect(huge.rowCount).toBe(MAX_STORED_ROW_COUNT);
    expect(huge.details).toEqual({ rowCount: 5_000_000_000 });
  });

  it("keeps ordinary counts as they are, with no details", () => {
    const row = toNewAuditEvent({ ...wireAuditEvent("SELECT 1"), rowCount: 42 }, AGENT_ID);
    expect(row).toMatchObject({ rowCount: 42, details: null, agentId: AGENT_ID });
    expect(toNewAuditEvent({ ...wireAuditEvent("BEGIN"), rowCount: null }, AGENT_ID).rowCount).toBeNull();
  });
});
