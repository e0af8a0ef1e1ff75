import { describe, expect, it } from "vitest";
import { parseOptions, startupSettings } from "./startup-settings.ts";

describe("parseOptions", () => {
  it("reads -c, -cname and --name forms, backslash-escaped spaces and dashes in long names", () => {
    expect(
      parseOptions(
        String.raw`-c statement_timeout=5s  -cwork_mem=8MB --lock-timeout=2s -c search_path=a\ b -B 100`,
      ),
    ).toEqual([
      { setting: "statement_timeout", value: "5s" },
      { setting: "work_mem", value: "8MB" },
      { setting: "lock_timeout", value: "2s" },
      { setting: "search_path", value: "a b" },
      { switch: "-B" },
      { switch: "100" },
    ]);
    expect(parseOptions("-c")).toEqual([{ switch: "-c" }]);
    expect(parseOptions("")).toEqual([]);
  });
});

describe("startupSettings", () => {
  it("passes session settings on, and names what it leaves out", () => {
    const { forwarded, ignored } = startupSettings(
      new Map([
        ["user", "dev@demo.local"],
        ["database", "shop"],
        ["application_name", "psql"],
        ["DateStyle", "ISO"],
        ["statement_timeout", "1500"],
        ["enable_seqscan", "off"],
        ["session_authorization", "postgres"],
        ["standard_conforming_strings", "off"],
        ["_pq_.protocol_option", "on"],
        ["options", "-c role=postgres -c work_mem=7MB --default-transaction-read-only=on"],
      ]),
    );
    expect(forwarded).toEqual({
      application_name: "psql",
      DateStyle: "ISO",
      statement_timeout: "1500",
      enable_seqscan: "off",
      work_mem: "7MB",
      default_transaction_read_only: "on",
    });
    expect(ignored).toEqual(["session_authorization", "standard_conforming_strings", "role"]);
  });
});
