import { describe, expect, it } from "vitest";
import { scopeForSave } from "./rule-scope.ts";

const connection = { id: "5d1c3c9e-8f7e-4a53-9d4e-2f0f3c1b6a10", environment: "staging" };

describe("scopeForSave", () => {
  it("saves a new rule, and a connection's own, on the connection", () => {
    expect(scopeForSave(null, connection)).toEqual({ connectionId: connection.id });
    expect(scopeForSave({ scope: "connection" }, connection)).toEqual({ connectionId: connection.id });
  });

  it("keeps an environment's rule on that environment, and a global rule global", () => {
    expect(scopeForSave({ scope: "environment" }, connection)).toEqual({ environment: "staging" });
    expect(scopeForSave({ scope: "global" }, connection)).toEqual({ environment: null });
  });
});
