-- Live sessions and ending one: an agent reports when its process started (sessions begun before died with
-- the previous one), and a session an admin ended is kept for the agents' snapshots.
ALTER TABLE "agents" ADD COLUMN "started_at" TIMESTAMPTZ(3);

CREATE TABLE "session_terminations" (
    "session_id" UUID NOT NULL,
    "agent_id" UUID NOT NULL,
    "requested_by" TEXT NOT NULL,
    "reason" TEXT NOT NULL DEFAULT '',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "session_terminations_pkey" PRIMARY KEY ("session_id")
);

CREATE INDEX "session_terminations_agent_id_created_at_idx" ON "session_terminations"("agent_id", "created_at");
