// The tRPC HTTP endpoint: the router behind fetchRequestHandler, with batches bounded.
import { fetchRequestHandler, type FetchHandlerRequestOptions } from "@trpc/server/adapters/fetch";
import { appRouter, type AppRouter } from "./root.ts";
import { TRPC_MAX_BATCH_SIZE } from "./trpc-limits.ts";
import { createTRPCContext, type TCreateContextOptions } from "./trpc.ts";

export const TRPC_ENDPOINT = "/api/trpc";

export function handleTrpcRequest(
  req: Request,
  options: {
    /** Called once per HTTP request, whatever the number of calls it batches. */
    context: () => Promise<TCreateContextOptions>;
    onError?: FetchHandlerRequestOptions<AppRouter>["onError"];
  },
): Promise<Response> {
  return fetchRequestHandler({
    endpoint: TRPC_ENDPOINT,
    req,
    router: appRouter,
    maxBatchSize: TRPC_MAX_BATCH_SIZE,
    createContext: async () => createTRPCContext(await options.context()),
    onError: options.onError,
  });
}
