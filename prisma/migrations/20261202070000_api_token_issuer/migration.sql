-- Which API token issued each token, so revoking a token also revokes what it issued (a leaked token's
-- holder could otherwise mint a successor before the leak is noticed and keep access after its revocation).
ALTER TABLE "api_tokens" ADD COLUMN "issued_by_token_id" UUID;
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_issued_by_token_id_fkey" FOREIGN KEY ("issued_by_token_id") REFERENCES "api_tokens"("id") ON DELETE SET NULL ON UPDATE CASCADE;
CREATE INDEX "api_tokens_issued_by_token_id_idx" ON "api_tokens"("issued_by_token_id");
