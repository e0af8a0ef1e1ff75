-- The provider's issuer and subject that single sign-on first linked each identity to. A later sign-in that
-- asserts the identity's email for another subject of that issuer is refused instead of taking it over.
ALTER TABLE "identities" ADD COLUMN "sso_issuer" TEXT;
ALTER TABLE "identities" ADD COLUMN "sso_subject" TEXT;

-- Identities that already signed in are bound to the subject of their first recorded sign-in change (the one
-- that created or first linked them), so the binding holds from now rather than from their next sign-in.
UPDATE "identities" AS i
SET "sso_issuer" = first."issuer", "sso_subject" = first."subject"
FROM (
    SELECT DISTINCT ON ("actor_id") "actor_id",
        "details" -> 'sso' ->> 'issuer' AS "issuer",
        "details" -> 'sso' ->> 'subject' AS "subject"
    FROM "audit_events"
    WHERE "application_name" = 'sso' AND "type" = 'admin_change' AND "actor_id" IS NOT NULL
        AND "details" -> 'sso' ->> 'issuer' IS NOT NULL AND "details" -> 'sso' ->> 'subject' IS NOT NULL
    ORDER BY "actor_id", "seq" ASC
) AS first
WHERE i."id" = first."actor_id";
