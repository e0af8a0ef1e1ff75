// tRPC setup in the create-t3-turbo shape: context, then a ladder of procedures that add guarantees.
import type { TDb } from "@portcullis/db";
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { z, ZodError } from "zod";
import { requireRoles, resolveCaller, type TCaller, type TRole, type TSessionLike } from "./auth.ts";
import { AppError, trpcCodeOf } from "./errors.ts";

export interface TCreateContextOptions {
  db: TDb;
  headers: Headers;
  /** The next-auth session of a dashboard request, or null. */
  session: TSessionLike | null;
  /** Key for secrets at rest (upstream passwords); absent where nothing is encrypted. */
  secretKey?: Buffer;
  /** Hosts audit streams may send to (PORTCULLIS_AUDIT_STREAM_HOSTS); undefined: any. */
  auditStreamHosts?: string[];
}

export interface TTRPCContext extends TCreateContextOptions {
  /**
   * The caller of this HTTP request, looked up once however many calls it batches (600 calls with a bad
   * bearer token were 600 store lookups). Absent in contexts built by hand (server-side callers, tests):
   * each call then resolves its own.
   */
  resolveCaller?: () => Promise<TCaller | null>;
}

/** One per HTTP request. */
export function createTRPCContext(opts: TCreateContextOptions): TTRPCContext {
  let caller: Promise<TCaller | null> | undefined;
  const ctx: TCreateContextOptions = {
    db: opts.db,
    headers: opts.headers,
    session: opts.session,
    secretKey: opts.secretKey,
    auditStreamHosts: opts.auditStreamHosts,
  };
  // A refusal (a bad token) is kept too: every call of the batch gets the same answer.
  return { ...ctx, resolveCaller: () => (caller ??= resolveCaller(ctx.db, ctx)) };
}

/** What clients see of an error the API did not expect; the REST edge says the same. */
const INTERNAL_MESSAGE = "Internal server error";

const t = initTRPC.context<TTRPCContext>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    // An unexpected error's message ("Invalid time value", a driver's text) is for the server's log (the route's
    // onError), not the client, as on the REST edge; an AppError's message was written for the client.
    if (error.code === "INTERNAL_SERVER_ERROR" && !(cause instanceof AppError)) {
      const { stack: _stack, ...data } = shape.data;
      return { ...shape, message: INTERNAL_MESSAGE, data: { ...data, zodError: null } };
    }
    return {
      ...shape,
      data: { ...shape.data, zodError: cause instanceof ZodError ? z.flattenError(cause) : null },
    };
  },
});

export const createCallerFactory = t.createCallerFactory;
export const createTRPCRouter = t.router;

/** The tRPC edge: services throw AppError, clients see the matching tRPC code and the service's message. */
const appErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof AppError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: trpcCodeOf(cause.code), message: cause.message, cause });
  }
  return result;
});

export const publicProcedure = t.procedure.use(appErrors);

/** Signed in with a session cookie, or calling with a valid bearer API token. */
export const protectedProcedure = publicProcedure.use(async ({ ctx, next }) => {
  const resolved = ctx.resolveCaller ? await ctx.resolveCaller() : await resolveCaller(ctx.db, ctx);
  const caller = requireRoles(resolved, []);
  return next({ ctx: { caller } });
});

/** Holds at least one of the roles. */
export const roleProcedure = (...roles: [TRole, ...TRole[]]) =>
  protectedProcedure.use(({ ctx, next }) => next({ ctx: { caller: requireRoles(ctx.caller, roles) } }));

export const adminProcedure = roleProcedure("admin");
