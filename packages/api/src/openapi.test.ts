import { describe, expect, it } from "vitest";
import { openApiDocument } from "./openapi.ts";

describe("openApiDocument", () => {
  const doc = openApiDocument("http://127.0.0.1:3000") as {
    openapi: string;
    paths: Record<
      string,
      Record<string, { responses: Record<string, unknown>; parameters?: { name: string }[] }>
    >;
    components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
  };

  it("describes every public route with its responses", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths).sort()).toEqual([
      "/api/health",
      "/api/v1/access-requests",
      "/api/v1/access-requests/{id}/approve",
      "/api/v1/access-requests/{id}/deny",
      "/api/v1/approvals",
      "/api/v1/approvals/{id}/approve",
      "/api/v1/approvals/{id}/deny",
      "/api/v1/audit-events",
      "/api/v1/audit-events/export",
      "/api/v1/audit-events/verify",
      "/api/v1/audit-streams",
      "/api/v1/audit-streams/{id}",
      "/api/v1/audit-streams/{id}/pause",
      "/api/v1/audit-streams/{id}/resume",
      "/api/v1/connections",
      "/api/v1/connections/{id}/credentials",
      "/api/v1/grants",
      "/api/v1/grants/{id}/revoke",
      "/api/v1/identities",
      "/api/v1/identities/{id}/deactivate",
      "/api/v1/identities/{id}/reactivate",
      "/api/v1/identities/{id}/tokens",
      "/api/v1/sessions",
      "/api/v1/sessions/{id}/end",
      "/api/v1/tokens/{id}/revoke",
    ]);
    for (const operations of Object.values(doc.paths))
      for (const operation of Object.values(operations))
        expect(Object.keys(operation.responses).length).toBeGreaterThan(0);
  });

  it("takes its shapes from the validating schemas", () => {
    expect(doc.paths["/api/v1/audit-events"]!.get!.parameters!.map((p) => p.name)).toEqual(
      expect.arrayContaining(["text", "actor", "decision", "from", "to", "limit", "cursor"]),
    );
    expect(doc.components.schemas.CreatedApiToken!.properties).toHaveProperty("token");
    expect(doc.components.schemas.CreateIdentity!.required).toEqual(expect.arrayContaining(["name", "kind"]));
    // Every $ref points at a defined schema.
    const refs = JSON.stringify(doc).match(/#\/components\/schemas\/\w+/g) ?? [];
    for (const ref of refs) expect(doc.components.schemas).toHaveProperty(ref.split("/").pop()!);
  });
});
