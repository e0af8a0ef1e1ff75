// The only place that reads process.env for the control plane (lint-enforced). Validated once, on first import.
import { createEnv } from "@t3-oss/env-nextjs";
import { z } from "zod";

const production = process.env.NODE_ENV === "production";

export const env = createEnv({
  server: {
    NODE_ENV: z.enum(["development", "test", "production"]).default("development"),
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgres:// or postgresql:// URL" }),
    // Signs and encrypts session cookies. Without it in production, every restart (or replica) would disagree.
    AUTH_SECRET: production ? z.string().min(32) : z.string().min(32).optional(),
    // Any random string; the AES key for upstream secrets at rest is derived from it (deriveSecretKey).
    PORTCULLIS_SECRET_KEY: z.string().min(16),
    PORT: z.coerce.number().int().min(1).max(65_535).default(3000),
    HOST: z.string().min(1).default("127.0.0.1"),
    PUBLIC_URL: z.url().default("http://127.0.0.1:3000"),
    // The embedded store (PGlite behind one socket) sets 1: it has a single backend session.
    DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(100).default(10),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  },
  client: {},
  runtimeEnv: {
    NODE_ENV: process.env.NODE_ENV,
    DATABASE_URL: process.env.DATABASE_URL,
    AUTH_SECRET: process.env.AUTH_SECRET,
    PORTCULLIS_SECRET_KEY: process.env.PORTCULLIS_SECRET_KEY,
    PORT: process.env.PORT,
    HOST: process.env.HOST,
    PUBLIC_URL: process.env.PUBLIC_URL,
    DATABASE_POOL_MAX: process.env.DATABASE_POOL_MAX,
    LOG_LEVEL: process.env.LOG_LEVEL,
  },
  emptyStringAsUndefined: true,
  // `next build` evaluates server modules without the runtime's secrets; the server validates at start-up.
  skipValidation: process.env.NEXT_PHASE === "phase-production-build",
});
