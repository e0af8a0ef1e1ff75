// Prisma CLI configuration. The CLI only generates the client here (see scripts/prisma-generate.mjs);
// migrations are applied by packages/db/src/migrator.ts, and `prisma migrate deploy` accepts the same folder.
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/portcullis" },
});
