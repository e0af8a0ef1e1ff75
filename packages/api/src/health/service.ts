import type { TDb } from "@portcullis/db";

export interface THealth {
  status: "ok" | "degraded";
  database: "ok" | "unreachable";
}

/** A trivial query with a deadline: a health check that hangs on an unreachable host is useless to a load balancer. */
export async function checkHealth(db: TDb, timeoutMs = 2000): Promise<THealth> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("database health check timed out")), timeoutMs);
  });
  try {
    await Promise.race([db.$queryRaw`SELECT 1`, deadline]);
    return { status: "ok", database: "ok" };
  } catch {
    return { status: "degraded", database: "unreachable" };
  } finally {
    clearTimeout(timer);
  }
}
