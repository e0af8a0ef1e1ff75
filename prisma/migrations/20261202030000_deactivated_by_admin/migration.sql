-- An identity an admin deactivated in Portcullis stays deactivated when the identity provider's SCIM pushes
-- the person as active again: only an admin lifts an admin's lockout.
ALTER TABLE "identities" ADD COLUMN "deactivated_by_admin" BOOLEAN NOT NULL DEFAULT false;
