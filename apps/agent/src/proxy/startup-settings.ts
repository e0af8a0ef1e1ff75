// A client's startup packet may carry settings for its session: as parameters of their own (node-postgres'
// statement_timeout, asyncpg's server_settings, pgjdbc's DateStyle) or in `options` (`-c name=value`, libpq's
// PGOPTIONS). The agent passes on session settings that change neither who the session is nor how the server
// reads statements, and tells the client which ones it did not.

/** Settings a client may set at startup through the agent (lower-case; Postgres compares names that way). */
const ALLOWED = new Set(
  `application_name client_encoding datestyle timezone intervalstyle extra_float_digits search_path
   statement_timeout lock_timeout idle_in_transaction_session_timeout idle_session_timeout
   work_mem maintenance_work_mem hash_mem_multiplier temp_buffers
   default_transaction_isolation default_transaction_read_only default_transaction_deferrable
   bytea_output client_min_messages xmlbinary xmloption lc_monetary lc_numeric lc_time
   jit plan_cache_mode random_page_cost seq_page_cost effective_cache_size effective_io_concurrency
   default_statistics_target from_collapse_limit join_collapse_limit geqo cursor_tuple_fraction
   max_parallel_workers_per_gather parallel_setup_cost parallel_tuple_cost gin_fuzzy_search_limit`
    .split(/\s+/)
    .filter(Boolean),
);

/** Planner switches (enable_seqscan, ...) only steer plans. */
const ALLOWED_PREFIXES = ["enable_"];

/** Startup parameters that are not settings, handled elsewhere (`replication` is refused before this). */
const NOT_SETTINGS = new Set(["user", "database", "options", "replication"]);

export interface TStartupSettings {
  /** What goes to the database's startup packet, under the names the client used. */
  forwarded: Record<string, string>;
  /** Settings, or `options` switches, left out. */
  ignored: string[];
}

export function isAllowedSetting(name: string): boolean {
  const lower = name.toLowerCase();
  return ALLOWED.has(lower) || ALLOWED_PREFIXES.some((p) => lower.startsWith(p));
}

export function startupSettings(params: ReadonlyMap<string, string>): TStartupSettings {
  const forwarded: Record<string, string> = {};
  const ignored: string[] = [];
  for (const [name, value] of params) {
    if (NOT_SETTINGS.has(name) || name.startsWith("_pq_.")) continue;
    if (isAllowedSetting(name)) forwarded[name] = value;
    else ignored.push(name);
  }
  const options = params.get("options");
  if (options !== undefined) {
    for (const option of parseOptions(options)) {
      if ("setting" in option && isAllowedSetting(option.setting)) forwarded[option.setting] = option.value;
      else ignored.push("setting" in option ? option.setting : option.switch);
    }
  }
  return { forwarded, ignored };
}

type TOption = { setting: string; value: string } | { switch: string };

/**
 * The command-line switches in `options`, split as Postgres splits them (pg_split_opts: whitespace separates,
 * a backslash keeps the next character), read as its command line reads them: `-c name=value`,
 * `-cname=value` and `--name=value` set a setting (a dash in the name is an underscore); anything else is a
 * switch this agent does not pass on.
 */
export function parseOptions(options: string): TOption[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < options.length; i++) {
    const c = options[i]!;
    if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      inWord = true;
      if (c === "\\" && i + 1 < options.length) word += options[++i];
      else word += c;
    }
  }
  if (inWord) words.push(word);

  const out: TOption[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    let assignment: string | null = null;
    if (w === "-c" && i + 1 < words.length) assignment = words[++i]!;
    else if (w.startsWith("-c") && w.length > 2) assignment = w.slice(2);
    else if (w.startsWith("--") && w.length > 2) assignment = w.slice(2);
    const eq = assignment?.indexOf("=") ?? -1;
    if (assignment === null || eq <= 0) out.push({ switch: w });
    else out.push({ setting: assignment.slice(0, eq).replace(/-/g, "_"), value: assignment.slice(eq + 1) });
  }
  return out;
}
