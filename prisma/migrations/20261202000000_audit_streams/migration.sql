-- Audit streams: the timeline sent on to SIEM collectors over HTTP, each with its own cursor (the seq of the
-- last event the receiver accepted) and a lease so that control-plane replicas take turns delivering.
CREATE TABLE "audit_streams" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "format" TEXT NOT NULL,
    "environments" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "signing_secret" TEXT,
    "authorization" TEXT,
    "cursor_seq" BIGINT NOT NULL,
    "delivered_count" BIGINT NOT NULL DEFAULT 0,
    "last_delivered_at" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "last_error_at" TIMESTAMPTZ(3),
    "failures" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lease_holder" TEXT,
    "lease_until" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "audit_streams_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "audit_streams_format_check" CHECK ("format" IN ('jsonl', 'ocsf'))
);

CREATE UNIQUE INDEX "audit_streams_name_key" ON "audit_streams"("name");
