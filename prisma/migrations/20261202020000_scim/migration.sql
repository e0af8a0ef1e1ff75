-- SCIM 2.0 provisioning: the identity provider creates, updates and deactivates people and groups. A group it
-- manages takes its members from SCIM only, so a sign-in's groups claim cannot undo a removal.
ALTER TABLE "identities" ADD COLUMN "scim_managed" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "identities" ADD COLUMN "external_id" TEXT;
ALTER TABLE "identities" ADD COLUMN "scim_deleted_at" TIMESTAMPTZ(3);
ALTER TABLE "groups" ADD COLUMN "scim_managed" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "groups" ADD COLUMN "external_id" TEXT;
