-- Grants to a group: every member of it (as the identity provider says at each sign-in) may connect. A grant
-- names exactly one identity or one group.
ALTER TABLE "grants" ALTER COLUMN "identity_id" DROP NOT NULL;
ALTER TABLE "grants" ADD COLUMN "group_id" UUID;
ALTER TABLE "grants" ADD CONSTRAINT "grants_one_grantee_check" CHECK (("identity_id" IS NULL) <> ("group_id" IS NULL));

CREATE INDEX "grants_group_id_connection_id_idx" ON "grants"("group_id", "connection_id");

ALTER TABLE "grants" ADD CONSTRAINT "grants_group_id_fkey" FOREIGN KEY ("group_id") REFERENCES "groups"("id") ON DELETE CASCADE ON UPDATE CASCADE;
