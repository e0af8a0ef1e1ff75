-- The client sessions open through each agent, as its latest heartbeat lists them: the dashboard's live
-- sessions come from the agents themselves rather than from scanning the timeline.
ALTER TABLE "agents" ADD COLUMN "live_sessions" JSONB NOT NULL DEFAULT '[]';
