-- Where clients reach an agent (host:port, as it announces it), kept with its heartbeat: a control-plane
-- replica that does not hold the agent's link still knows whether it is online and what to put in a
-- connection string.
ALTER TABLE "agents" ADD COLUMN "address" TEXT;
