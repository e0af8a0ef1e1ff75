-- The production baseline's "Server administration functions are blocked" rule gained the functions that
-- read, write or list server files (lo_import, pg_ls_waldir, pg_file_write, ...). A connection keeps the rules
-- it was created with, so those created before had the shorter list: the rules that still carry the
-- baseline's name and action get the functions they lack (anything an admin added stays), and the policy
-- revision moves so that agents take the change at once.
UPDATE "guardrails" AS g
SET "match" = jsonb_set(
      g."match",
      '{functions}',
      (
        SELECT jsonb_agg(f ORDER BY f)
        FROM (
          SELECT jsonb_array_elements_text(g."match" -> 'functions') AS f
          UNION
          SELECT unnest(ARRAY[
            'lo_import', 'lo_export', 'pg_ls_logdir', 'pg_ls_waldir', 'pg_ls_tmpdir', 'pg_ls_archive_statusdir',
            'pg_ls_logicalsnapdir', 'pg_ls_logicalmapdir', 'pg_ls_replslotdir', 'pg_file_write', 'pg_file_rename',
            'pg_file_unlink', 'pg_file_sync', 'pg_logdir_ls'
          ])
        ) AS functions
      )
    ),
    "updated_at" = now()
WHERE g."name" = 'Server administration functions are blocked'
  AND g."action" = 'block'
  AND jsonb_typeof(g."match" -> 'functions') = 'array'
  AND NOT (g."match" -> 'functions') @> '["lo_import", "lo_export", "pg_ls_logdir", "pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir", "pg_ls_logicalsnapdir", "pg_ls_logicalmapdir", "pg_ls_replslotdir", "pg_file_write", "pg_file_rename", "pg_file_unlink", "pg_file_sync", "pg_logdir_ls"]'::jsonb;

UPDATE "settings"
SET "value" = to_jsonb(("value")::text::int + 1), "updated_at" = now()
WHERE "key" = 'policy_revision';
