// The zero-setup store: Postgres compiled to WASM (PGlite), file-backed, served over the wire protocol on
// loopback so the rest of the system uses a plain DATABASE_URL and one code path.
// PGlite has a single backend session shared by every client: keep pools that talk to it at size 1.
import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

export interface TEmbeddedPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  host?: string;
  port?: number;
  database?: string;
}): Promise<TEmbeddedPostgres> {
  await mkdir(options.dataDir, { recursive: true });
  // pg_trgm backs the audit search indexes (a migration creates the extension).
  const db = await PGlite.create({ dataDir: options.dataDir, extensions: { pg_trgm } });
  const host = options.host ?? "127.0.0.1";
  const server = new PGLiteSocketServer({ db, host, port: options.port ?? 0, maxConnections: 64 });
  await server.start();
  const address = server.getServerConn();
  const port = Number(address.split(":").at(-1));
  return {
    url: `postgresql://postgres@${host}:${port}/${options.database ?? "postgres"}`,
    port,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
