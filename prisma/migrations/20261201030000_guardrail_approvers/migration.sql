-- A require_approval guardrail can ask for more than one approver (four eyes on production changes) and
-- limit who may decide to one group. Copied onto each approval when it is requested, so editing the rule
-- later does not change requests already waiting.
ALTER TABLE "guardrails" ADD COLUMN "required_approvals" INTEGER NOT NULL DEFAULT 1;
ALTER TABLE "guardrails" ADD COLUMN "approver_group" TEXT;
ALTER TABLE "guardrails" ADD CONSTRAINT "guardrails_required_approvals_check" CHECK ("required_approvals" BETWEEN 1 AND 5);
