// The tRPC edge's error shapes, through the HTTP handler as a client sees them.
import type { TDb } from "@portcullis/db";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AppError } from "./errors.ts";
import { createTRPCRouter, publicProcedure } from "./trpc.ts";

const router = createTRPCRouter({
  crash: publicProcedure.query(() => new Date(Number.NaN).toISOString()),
  appInternal: publicProcedure.query(() => {
    throw new AppError("INTERNAL", "The policy snapshot could not be built");
  }),
  conflict: publicProcedure.query(() => {
    throw new AppError("CONFLICT", "An identity with that name exists");
  }),
  typed: publicProcedure.input(z.object({ n: z.number() })).query(({ input }) => input.n),
});

async function errorOf(path: string, input?: unknown) {
  const url = new URL(`http://x/api/trpc/${path}`);
  if (input !== undefined) url.searchParams.set("input", JSON.stringify({ json: input }));
  const response = await fetchRequestHandler({
    endpoint: "/api/trpc",
    req: new Request(url),
    router,
    createContext: () => ({ db: {} as TDb, headers: new Headers(), session: null }),
  });
  const body = (await response.json()) as {
    error: { json: { message: string; data: { code: string; stack?: string; zodError: unknown } } };
  };
  return { status: response.status, ...body.error.json };
}

describe("tRPC errors", () => {
  it("hides an unexpected error's message and stack behind a generic one", async () => {
    const error = await errorOf("crash");
    expect(error.status).toBe(500);
    expect(error.message).toBe("Internal server error");
    expect(error.data.code).toBe("INTERNAL_SERVER_ERROR");
    expect(JSON.stringify(error)).not.toContain("Invalid time value");
  });

  it("keeps the messages services wrote for clients, and input errors' details", async () => {
    expect(await errorOf("appInternal")).toMatchObject({
      status: 500,
      message: "The policy snapshot could not be built",
    });
    expect(await errorOf("conflict")).toMatchObject({
      status: 409,
      message: "An identity with that name exists",
    });
    const invalid = await errorOf("typed", { n: "one" });
    expect(invalid.status).toBe(400);
    expect(invalid.data.zodError).toMatchObject({ fieldErrors: { n: [expect.any(String)] } });
  });
});
