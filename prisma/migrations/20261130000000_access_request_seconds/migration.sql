-- Just-in-time access is asked for in minutes or hours, but tests and short break-glass windows need
-- finer steps: store the requested duration in seconds.
ALTER TABLE "access_requests" RENAME COLUMN "duration_minutes" TO "duration_seconds";
UPDATE "access_requests" SET "duration_seconds" = "duration_seconds" * 60;
