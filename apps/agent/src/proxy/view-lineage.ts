// Which base column each column of a view carries, read from the view's stored query (pg_rewrite.ev_action,
// a pg_node_tree). Postgres's parser marks every output column that is a plain column reference with the
// table and column it comes from (TargetEntry resorigtbl/resorigcol: through aliases, joins, subqueries and
// CTEs), which is what it reports in RowDescription for a query; a view stores that marking too, and its
// RowDescription then names only the view. Anything else (an expression, a whole row, a set operation) has
// no origin: the caller masks it as computed. Anything this reader does not understand gives no origin either.

/** A column's origin in its view's stored query: a table (or view) OID and attribute number. */
export interface TColumnOrigin {
  tableOid: number;
  attnum: number;
}

type TNodeValue = string | TNodeValue[] | TNode;
interface TNode {
  type: string;
  fields: Map<string, TNodeValue>;
}

/**
 * The output columns of a view's query, by attribute number: each a plain column's origin, or null. Returns
 * null when the text is not a single query whose target list could be read.
 */
export function viewColumnOrigins(evAction: string): Map<number, TColumnOrigin | null> | null {
  let root: TNodeValue;
  try {
    root = new NodeTreeReader(evAction).read();
  } catch {
    return null;
  }
  if (!Array.isArray(root) || root.length !== 1) return null;
  const query = root[0];
  if (!isNode(query) || query.type !== "QUERY") return null;
  const targetList = query.fields.get("targetList");
  if (!Array.isArray(targetList)) return null;
  const origins = new Map<number, TColumnOrigin | null>();
  for (const entry of targetList) {
    if (!isNode(entry) || entry.type !== "TARGETENTRY") return null;
    if (entry.fields.get("resjunk") === "true") continue;
    const resno = integer(entry.fields.get("resno"));
    if (resno === null || resno < 1) return null;
    const expr = entry.fields.get("expr");
    const tableOid = integer(entry.fields.get("resorigtbl"));
    const attnum = integer(entry.fields.get("resorigcol"));
    // Only a plain column reference carries one column's values unchanged (a whole row has attnum 0).
    const plain = isNode(expr) && expr.type === "VAR" && tableOid !== null && tableOid > 0;
    origins.set(resno, plain && attnum !== null && attnum > 0 ? { tableOid, attnum } : null);
  }
  return origins;
}

const isNode = (value: TNodeValue | undefined): value is TNode =>
  typeof value === "object" && !Array.isArray(value);

function integer(value: TNodeValue | undefined): number | null {
  if (typeof value !== "string" || !/^-?\d{1,10}$/.test(value)) return null;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * Reads Postgres's node-tree text (src/backend/nodes/read.c): tokens separated by whitespace, `(` `)` `{` `}`
 * tokens by themselves, a backslash quoting the next character; `{TYPE :field value ...}` nodes and `( ... )`
 * lists. Tokens a field prints after its value (a Const's datum bytes) are skipped.
 */
class NodeTreeReader {
  private position = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  read(): TNodeValue {
    const value = this.value();
    if (this.peek() !== null) throw new Error("text after the node tree");
    return value;
  }

  private value(): TNodeValue {
    const token = this.next();
    if (token === null) throw new Error("unexpected end of the node tree");
    if (token === "{") return this.node();
    if (token === "(") return this.list();
    if (token === ")" || token === "}") throw new Error(`unexpected ${token}`);
    return token;
  }

  private node(): TNode {
    if (++this.depth > 1000) throw new Error("node tree too deep");
    const type = this.next();
    if (type === null || "(){}".includes(type)) throw new Error("node without a type");
    const fields = new Map<string, TNodeValue>();
    for (;;) {
      const token = this.peek();
      if (token === null) throw new Error("unterminated node");
      if (token === "}") {
        this.next();
        this.depth--;
        return { type, fields };
      }
      if (token.startsWith(":") && token.length > 1) {
        this.next();
        const name = token.slice(1);
        const value = this.value();
        if (!fields.has(name)) fields.set(name, value);
      } else this.value(); // a value's trailing tokens
    }
  }

  private list(): TNodeValue[] {
    if (++this.depth > 1000) throw new Error("node tree too deep");
    const items: TNodeValue[] = [];
    for (;;) {
      const token = this.peek();
      if (token === null) throw new Error("unterminated list");
      if (token === ")") {
        this.next();
        this.depth--;
        return items;
      }
      items.push(this.value());
    }
  }

  private peek(): string | null {
    const start = this.position;
    const token = this.next();
    this.position = start;
    return token;
  }

  private next(): string | null {
    const text = this.text;
    let i = this.position;
    while (i < text.length && (text[i] === " " || text[i] === "\n" || text[i] === "\t")) i++;
    if (i >= text.length) {
      this.position = i;
      return null;
    }
    const first = text[i]!;
    if (first === "(" || first === ")" || first === "{" || first === "}") {
      this.position = i + 1;
      return first;
    }
    let token = "";
    while (i < text.length) {
      const c = text[i]!;
      if (c === " " || c === "\n" || c === "\t" || c === "(" || c === ")" || c === "{" || c === "}") break;
      if (c === "\\" && i + 1 < text.length) {
        token += c + text[i + 1];
        i += 2;
        continue;
      }
      token += c;
      i++;
    }
    this.position = i;
    return token;
  }
}
