// The tRPC HTTP endpoint against a real store: batches are bounded, and a request's caller is looked up once.
import { createDb, type TDb } from "@portcullis/db";
import { createTestDatabase } from "@portcullis/db/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedApiTestStore, TEST_TOKENS } from "./test-support.ts";
import { handleTrpcRequest } from "./trpc-http.ts";
import { TRPC_MAX_BATCH_SIZE } from "./trpc-limits.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;
/** API-token lookups in the store, counted by a wrapper around the real client. */
let tokenLookups = 0;
let counted: TDb;

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 4 });
  await seedApiTestStore(db, { guardrails: [], maskingRules: [] });
  counted = new Proxy(db, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (property !== "apiToken") return typeof value === "function" ? value.bind(target) : value;
      return new Proxy(value as object, {
        get(delegate, method) {
          const fn: unknown = Reflect.get(delegate, method);
          if (typeof fn !== "function") return fn;
          return (...args: unknown[]) => {
            if (method === "findUnique") tokenLookups++;
            return (fn as (...a: unknown[]) => unknown).apply(delegate, args);
          };
        },
      });
    },
  });
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

/** A GET of `calls` batched queries of the same procedure, as httpBatchLink sends them. */
function batch(path: string, calls: number, token: string) {
  const paths = Array.from({ length: calls }, () => path).join(",");
  const input = Object.fromEntries(Array.from({ length: calls }, (_, i) => [i, {}]));
  const url = `http://x/api/trpc/${paths}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`;
  let contexts = 0;
  return {
    response: handleTrpcRequest(new Request(url, { headers: { authorization: `Bearer ${token}` } }), {
      context: () => {
        contexts++;
        return Promise.resolve({
          db: counted,
          headers: new Headers({ authorization: `Bearer ${token}` }),
          session: null,
        });
      },
    }),
    contexts: () => contexts,
  };
}

const codesOf = async (response: Response) =>
  ((await response.json()) as { error?: { json: { data: { code: string } } } }[]).map(
    (r) => r.error?.json.data.code ?? "OK",
  );

describe("tRPC over HTTP", () => {
  it("refuses a batch bigger than the cap with a 400, before any work", async () => {
    tokenLookups = 0;
    const call = batch("connections.mine", TRPC_MAX_BATCH_SIZE + 1, "pcat_bogus");
    const response = await call.response;
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toContain("Batch call exceeds maximum size");
    expect(tokenLookups).toBe(0);
  });

  it("looks a bad bearer token up once per request, however many calls it batches", async () => {
    tokenLookups = 0;
    const call = batch("connections.mine", TRPC_MAX_BATCH_SIZE, "pcat_bogus");
    const response = await call.response;
    expect(response.status).toBe(401);
    expect(await codesOf(response)).toEqual(Array(TRPC_MAX_BATCH_SIZE).fill("UNAUTHORIZED"));
    expect(call.contexts()).toBe(1);
    expect(tokenLookups).toBe(1);
  });

  it("looks a good one up once per request too, and each request afresh", async () => {
    tokenLookups = 0;
    for (let request = 1; request <= 2; request++) {
      const response = await batch("connections.mine", TRPC_MAX_BATCH_SIZE, TEST_TOKENS.developer).response;
      expect(response.status).toBe(200);
      expect(await codesOf(response)).toEqual(Array(TRPC_MAX_BATCH_SIZE).fill("OK"));
      expect(tokenLookups).toBe(request);
    }
  });
});
