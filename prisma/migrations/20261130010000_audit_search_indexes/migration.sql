-- Audit search over millions of events: each filter walks an index in time order, tables and columns use
-- array containment, and text search (a case-insensitive substring of statement, message, actor or
-- connection) uses trigram indexes that the planner can combine.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX "audit_events_type_occurred_at_idx" ON "audit_events"("type", "occurred_at" DESC);
CREATE INDEX "audit_events_actor_kind_occurred_at_idx" ON "audit_events"("actor_kind", "occurred_at" DESC);
CREATE INDEX "audit_events_connection_name_occurred_at_idx" ON "audit_events"("connection_name", "occurred_at" DESC);
CREATE INDEX "audit_events_environment_occurred_at_idx" ON "audit_events"("environment", "occurred_at" DESC);
CREATE INDEX "audit_events_decision_occurred_at_idx" ON "audit_events"("decision", "occurred_at" DESC);
CREATE INDEX "audit_events_tables_idx" ON "audit_events" USING GIN ("tables");
CREATE INDEX "audit_events_columns_idx" ON "audit_events" USING GIN ("columns");
CREATE INDEX "audit_events_statement_trgm_idx" ON "audit_events" USING GIN ("statement" gin_trgm_ops);
CREATE INDEX "audit_events_message_trgm_idx" ON "audit_events" USING GIN ("message" gin_trgm_ops);
CREATE INDEX "audit_events_actor_name_trgm_idx" ON "audit_events" USING GIN ("actor_name" gin_trgm_ops);
CREATE INDEX "audit_events_connection_name_trgm_idx" ON "audit_events" USING GIN ("connection_name" gin_trgm_ops);
