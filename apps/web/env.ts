// The only place that reads process.env for the control plane (lint-enforced). Validated once, on first import.
import { createEnv } from "@t3-oss/env-nextjs";
import { parseStreamHostList } from "@portcullis/api/audit-streams/hosts";
import { z } from "zod";
import { DEFAULT_ROLE_MAPPING, parseRoleMapping } from "./lib/oidc-mapping.ts";

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
    // Replicas on one store signal each other (approval decisions) over LISTEN/NOTIFY, on a connection of
    // its own. The embedded store sets off: its single session cannot also listen.
    PORTCULLIS_REPLICA_SIGNALS: z.enum(["on", "off"]).default("on"),
    // Behind a reverse proxy that appends the client's address to X-Forwarded-For: on. Off (directly
    // reachable), the header is replaced with the connection's own address, so a client cannot choose it.
    PORTCULLIS_TRUST_PROXY: z.enum(["on", "off"]).default("off"),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    // Approval notifications: a Slack incoming webhook, and/or a generic JSON webhook signed with the secret.
    SLACK_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
    PORTCULLIS_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
    PORTCULLIS_WEBHOOK_SECRET: z.string().min(16).optional(),
    // Hosts audit streams may send to (`collector.corp.example,*.splunkcloud.com,10.0.0.5`). Unset: any host,
    // so a dashboard admin can point a stream at an internal service and read the start of its answers.
    PORTCULLIS_AUDIT_STREAM_HOSTS: z
      .string()
      .optional()
      .transform((text, ctx) => {
        if (text === undefined) return undefined;
        const parsed = parseStreamHostList(text);
        if (parsed.ok) return parsed.hosts;
        ctx.addIssue({ code: "custom", message: parsed.error });
        return z.NEVER;
      }),
    // Single sign-on (OpenID Connect). Unset: only the email-and-password form. Issuer, id and secret go together.
    OIDC_ISSUER: z.url({ protocol: /^https?$/ }).optional(),
    OIDC_CLIENT_ID: z.string().min(1).optional(),
    OIDC_CLIENT_SECRET: z.string().min(1).optional(),
    OIDC_DISPLAY_NAME: z.string().trim().min(1).max(60).default("Single sign-on"),
    OIDC_GROUPS_CLAIM: z.string().min(1).default("groups"),
    // `group:role,...`; parsed here so a typo stops the server at start-up rather than at someone's sign-in.
    OIDC_ROLE_MAPPING: z
      .string()
      .default(DEFAULT_ROLE_MAPPING)
      .transform((text, ctx) => {
        const parsed = parseRoleMapping(text);
        if (parsed.ok) return parsed.mapping;
        ctx.addIssue({ code: "custom", message: parsed.error });
        return z.NEVER;
      }),
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
    PORTCULLIS_REPLICA_SIGNALS: process.env.PORTCULLIS_REPLICA_SIGNALS,
    PORTCULLIS_TRUST_PROXY: process.env.PORTCULLIS_TRUST_PROXY,
    LOG_LEVEL: process.env.LOG_LEVEL,
    SLACK_WEBHOOK_URL: process.env.SLACK_WEBHOOK_URL,
    PORTCULLIS_WEBHOOK_URL: process.env.PORTCULLIS_WEBHOOK_URL,
    PORTCULLIS_WEBHOOK_SECRET: process.env.PORTCULLIS_WEBHOOK_SECRET,
    PORTCULLIS_AUDIT_STREAM_HOSTS: process.env.PORTCULLIS_AUDIT_STREAM_HOSTS,
    OIDC_ISSUER: process.env.OIDC_ISSUER,
    OIDC_CLIENT_ID: process.env.OIDC_CLIENT_ID,
    OIDC_CLIENT_SECRET: process.env.OIDC_CLIENT_SECRET,
    OIDC_DISPLAY_NAME: process.env.OIDC_DISPLAY_NAME,
    OIDC_GROUPS_CLAIM: process.env.OIDC_GROUPS_CLAIM,
    OIDC_ROLE_MAPPING: process.env.OIDC_ROLE_MAPPING,
  },
  emptyStringAsUndefined: true,
  // A half-configured provider would show a button that can only fail: refuse to start instead.
  createFinalSchema: (shape) =>
    z.object(shape).superRefine((values, ctx) => {
      const oidc = [values.OIDC_ISSUER, values.OIDC_CLIENT_ID, values.OIDC_CLIENT_SECRET];
      if (oidc.some((v) => v !== undefined) && oidc.some((v) => v === undefined))
        ctx.addIssue({
          code: "custom",
          path: ["OIDC_ISSUER"],
          message: "set all of OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET, or none of them",
        });
    }),
  // `next build` evaluates server modules without the runtime's secrets; the server validates at start-up.
  skipValidation: process.env.NEXT_PHASE === "phase-production-build",
});
