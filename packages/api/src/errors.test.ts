import { describe, expect, it } from "vitest";
import { APP_ERROR_CODES, AppError, httpStatusOf, trpcCodeOf } from "./errors.ts";
import { handleRest, restErrorResponse } from "./rest.ts";

describe("AppError mapping", () => {
  it.each([
    ["BAD_REQUEST", 400],
    ["UNAUTHORIZED", 401],
    ["FORBIDDEN", 403],
    ["NOT_FOUND", 404],
    ["CONFLICT", 409],
    ["PAYLOAD_TOO_LARGE", 413],
    ["INTERNAL", 500],
  ] as const)("%s is HTTP %i", (code, status) => {
    expect(httpStatusOf(code)).toBe(status);
  });

  it("maps every code to a tRPC code", () => {
    expect(APP_ERROR_CODES.map(trpcCodeOf)).toEqual([
      "NOT_FOUND",
      "FORBIDDEN",
      "UNAUTHORIZED",
      "BAD_REQUEST",
      "CONFLICT",
      "PAYLOAD_TOO_LARGE",
      "INTERNAL_SERVER_ERROR",
    ]);
  });
});

describe("REST edge", () => {
  it("answers an AppError with its status and the {error:{code,message}} body", async () => {
    const response = restErrorResponse(
      new AppError("FORBIDDEN", "Requires one of the roles: auditor, admin"),
    );
    expect(response.status).toBe(403);
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(await response.json()).toEqual({
      error: { code: "FORBIDDEN", message: "Requires one of the roles: auditor, admin" },
    });
  });

  it("asks for a bearer token on 401", () => {
    const response = restErrorResponse(new AppError("UNAUTHORIZED", "Authentication required"));
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe("Bearer");
  });

  it("hides unexpected errors behind a generic 500 and reports them", async () => {
    const seen: unknown[] = [];
    const response = await handleRest(
      () => Promise.reject(new Error("connection string postgres://secret@db")),
      (e) => seen.push(e),
    );
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: { code: "INTERNAL", message: "Internal server error" } });
    expect(seen).toHaveLength(1);
  });

  it("answers 200 JSON with the handler's result", async () => {
    const response = await handleRest(() => Promise.resolve({ items: [], nextCursor: null }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ items: [], nextCursor: null });
  });
});
