import { wireAuditEvent } from "@portcullis/agent/src/link/test-events.ts";
import { describe, expect, it } from "vitest";
import { storableText } from "../lib/text.ts";
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

describe("storableText", () => {
  it("replaces lone surrogates and NUL with U+FFFD and keeps everything else, pairs included", () => {
    expect(storableText("SELECT '😀'")).toBe("SELECT '😀'");
    expect(storableText(`x${"😀".slice(0, 1)}`)).toBe("x\uFFFD");
    expect(storableText(`${"😀".slice(1)}x`)).toBe("\uFFFDx");
    expect(storableText("a\u0000b😀")).toBe("a\uFFFDb😀");
    const plain = "SELECT 1";
    expect(storableText(plain)).toBe(plain);
  });

  it("is applied to an agent's text before the row is hashed, so the chain covers what is stored", () => {
    const cut = `SELECT 1 -- ${"😀"}`.slice(0, -1);
    const row = toNewAuditEvent(
      { ...wireAuditEvent(cut), message: "m\u0000", tables: ["t\u0000"], error: "e\uDE00" },
      AGENT_ID,
    );
    expect(row).toMatchObject({
      statement: "SELECT 1 -- \uFFFD",
      message: "m\uFFFD",
      tables: ["t\uFFFD"],
      error: "e\uFFFD",
    });
    // JSON.stringify (what the chain's body is made with) escapes lone surrogates as \\udXXX.
    expect(JSON.stringify(row)).not.toMatch(/\\u0000|\\ud[89a-f]/i);
  });
});
