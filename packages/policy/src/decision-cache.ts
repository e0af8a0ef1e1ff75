// Repeated statements (ORMs, pgbench, dashboards) skip the parser: analyses are cached by exact text.
// Guardrail evaluation over a cached analysis is cheap and depends on who asks, so it is not cached.
import { analyzeSql, type TAnalysis } from "./analyze.ts";

export class AnalysisCache {
  private readonly entries = new Map<string, TAnalysis>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly maxEntries = 10_000,
    private readonly maxTextLength = 16_384,
  ) {}

  analyze(sql: string): TAnalysis {
    const cached = this.entries.get(sql);
    if (cached) {
      this.hits += 1;
      // Refresh recency: Map keeps insertion order, so re-inserting moves it to the back.
      this.entries.delete(sql);
      this.entries.set(sql, cached);
      return cached;
    }
    this.misses += 1;
    const analysis = analyzeSql(sql);
    if (sql.length <= this.maxTextLength) {
      if (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
      this.entries.set(sql, analysis);
    }
    return analysis;
  }

  get size(): number {
    return this.entries.size;
  }
}
