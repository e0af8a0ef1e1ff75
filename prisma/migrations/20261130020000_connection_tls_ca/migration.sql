-- A connection can name the CA that signs its database's certificate (a private CA, a cloud provider's
-- bundle), so verify-ca / verify-full work without touching the agent host's trust store.
ALTER TABLE "connections" ADD COLUMN "tls_ca" TEXT;
