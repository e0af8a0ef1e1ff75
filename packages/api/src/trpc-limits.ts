// Shared by the tRPC route (which refuses a bigger batch with a 400) and the dashboard's batch link (which
// splits its calls to fit). Its own module: the browser bundle imports it, so it must import nothing.

/** Calls per batched tRPC request: bounds the work one request can ask for. */
export const TRPC_MAX_BATCH_SIZE = 20;
