// Shared by the api package's integration tests: a store seeded like the demo (admin, developer and AI
// agent with known API tokens, one production connection) and a tRPC caller authenticated by a token.
import type { TDb } from "@portcullis/db";
import { seedDemo } from "@portcullis/db/seed-demo";
import { TRPCError } from "@trpc/server";
import { resolveCaller, type TCaller } from "./auth.ts";
import { appRouter } from "./root.ts";
import { createCallerFactory } from "./trpc.ts";

export const TEST_TOKENS = { admin: "pcat_admin", developer: "pcat_dev", copilot: "pcat_cop" } as const;

export function seedApiTestStore(
  db: TDb,
  rules: Pick<Parameters<typeof seedDemo>[1], "guardrails" | "maskingRules"> & { agentName?: string },
): ReturnType<typeof seedDemo> {
  return seedDemo(db, {
    secrets: {
      adminPassword: "x",
      adminApiToken: TEST_TOKENS.admin,
      developerToken: TEST_TOKENS.developer,
      copilotToken: TEST_TOKENS.copilot,
    },
    agentName: rules.agentName ?? "agent",
    connection: {
      name: "demo",
      environment: "production",
      host: "127.0.0.1",
      port: 5432,
      database: "x",
      username: "postgres",
    },
    guardrails: rules.guardrails,
    maskingRules: rules.maskingRules,
  });
}

/** The router as a bearer-token client calls it (the same middleware as over HTTP). */
export function apiCaller(db: TDb, token: string, secretKey?: Buffer) {
  return createCallerFactory(appRouter)({
    db,
    headers: new Headers({ authorization: `Bearer ${token}` }),
    session: null,
    secretKey,
  });
}

/** The caller a bearer token resolves to, for calling services directly. */
export async function callerOf(db: TDb, token: string): Promise<TCaller> {
  const caller = await resolveCaller(db, {
    headers: new Headers({ authorization: `Bearer ${token}` }),
    session: null,
  });
  if (!caller) throw new Error("no caller");
  return caller;
}

/** The tRPC error a call is refused with (code and message, as a client sees them); throws if it succeeds. */
export async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TRPCError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error("expected a refusal");
}
