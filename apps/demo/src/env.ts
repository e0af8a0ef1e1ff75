// The launcher's configuration. Everything has a default: `npm start` needs none of it.
import { createEnv } from "@t3-oss/env-core";
import { z } from "zod";

export const env = createEnv({
  server: {
    /** Control-plane store. Unset: an embedded Postgres (PGlite) under PORTCULLIS_DATA_DIR/store. */
    DATABASE_URL: z.url().optional(),
    PORTCULLIS_DATA_DIR: z.string().optional(),
    PORTCULLIS_HOST: z.string().default("127.0.0.1"),
    PORTCULLIS_WEB_PORT: z.coerce.number().int().min(1).max(65535).default(3000),
    PORTCULLIS_AGENT_PORT: z.coerce.number().int().min(1).max(65535).default(6432),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  },
  runtimeEnv: process.env,
  emptyStringAsUndefined: true,
});

/** Child processes inherit the launcher's environment (PATH, HOME, proxies...) plus what it sets for them. */
export function inheritedEnvironment(): NodeJS.ProcessEnv {
  return { ...process.env };
}
