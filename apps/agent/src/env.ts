// The agent's configuration, validated once at start-up. Nothing else reads process.env.
import { createEnv } from "@t3-oss/env-core";
import { z } from "zod";

const flag = z
  .enum(["true", "false", "1", "0"])
  .default("false")
  .transform((v) => v === "true" || v === "1");

export const env = createEnv({
  server: {
    PORTCULLIS_CONTROL_PLANE_URL: z.url(),
    PORTCULLIS_ENROLLMENT_TOKEN: z.string().startsWith("pcen_").optional(),
    PORTCULLIS_AGENT_DATA_DIR: z.string().default("./.data/agent"),
    PORTCULLIS_LISTEN_HOST: z.string().default("127.0.0.1"),
    PORTCULLIS_LISTEN_PORT: z.coerce.number().int().min(0).max(65535).default(6432),
    // host:port clients use to reach this agent, shown in the dashboard's connection strings (default: listen address).
    PORTCULLIS_PUBLIC_ADDRESS: z.string().min(3).max(300).optional(),
    // How long a statement waits in its session for an approval before it is refused.
    PORTCULLIS_APPROVAL_TIMEOUT_S: z.coerce
      .number()
      .int()
      .min(5)
      .max(24 * 3600)
      .default(300),
    PORTCULLIS_TLS_CERT_FILE: z.string().optional(),
    PORTCULLIS_TLS_KEY_FILE: z.string().optional(),
    PORTCULLIS_ALLOW_CLEARTEXT_REMOTE: flag,
    PORTCULLIS_IDLE_TIMEOUT_MS: z.coerce.number().int().nonnegative().default(0),
    /** On SIGTERM/SIGINT, how long busy sessions may finish their statement or transaction (a second signal: none). */
    PORTCULLIS_SHUTDOWN_GRACE_MS: z.coerce.number().int().nonnegative().max(3_600_000).default(5_000),
    /** Disk for audit events not yet acknowledged; past 90% of it, statements are refused. */
    PORTCULLIS_AUDIT_SPOOL_MAX_MB: z.coerce.number().int().min(1).default(1024),
    /** Of those, how many MB of the oldest are held in memory (what the link sends next); the rest is read back. */
    PORTCULLIS_AUDIT_SPOOL_MEMORY_MB: z.coerce.number().int().min(1).max(1024).default(16),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  },
  runtimeEnv: process.env,
  emptyStringAsUndefined: true,
});
