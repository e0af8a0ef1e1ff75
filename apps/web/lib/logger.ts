import { pino } from "pino";
import { env } from "../env.ts";

/** One structured logger for the custom server and the route handlers. */
export const logger = pino({
  name: "portcullis-web",
  // `next build` loads route modules with validation skipped, so defaults are not applied there.
  level: env.LOG_LEVEL ?? "info",
});
