import { describe, expect, it } from "vitest";
import { escapeLike, named, nameInAnyCase, sameName } from "./names.ts";

describe("case-insensitive names", () => {
  it("escapes LIKE's wildcards and its escape character", () => {
    expect(escapeLike("j_doe%@corp\\example")).toBe("j\\_doe\\%@corp\\\\example");
    expect(nameInAnyCase("a_b")).toEqual({ equals: "a\\_b", mode: "insensitive" });
  });

  it("keeps only rows equal in any case, in their order, whatever the query returned", () => {
    const rows = [
      { name: "jadoe@corp.example" },
      { name: "J_Doe@Corp.example" },
      { name: "j_doe@corp.example" },
    ];
    expect(named(rows, "j_doe@corp.example")).toEqual([rows[1], rows[2]]);
    expect(named(rows, "%")).toEqual([]);
    expect(sameName("db-admins", "db_admins")).toBe(false);
  });
});
