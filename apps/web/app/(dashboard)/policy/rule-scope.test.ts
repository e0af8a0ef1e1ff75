import { describe, expect, it } from "vitest";
import { scopeForSave } from "./rule-scope.ts";

const connectionId = "5d1c3c9e-8f7e-4a53-9d4e-2f0f3c1b6a10";

describe("scopeForSave", () => {
  it("saves a new rule, and a connection's own, on the connection", () => {
    expect(scopeForSave(null, connectionId)).toEqual({ connectionId });
    expect(scopeForSave({ scope: "connection", environment: null }, connectionId)).toEqual({ connectionId });
  });

  it("keeps an environment's rule on its own environment, and a global rule global", () => {
    expect(scopeForSave({ scope: "environment", environment: "staging" }, connectionId)).toEqual({
      environment: "staging",
    });
    expect(scopeForSave({ scope: "global", environment: null }, connectionId)).toEqual({ environment: null });
  });
});
