import { describe, expect, it } from "vitest";
import {
  DEFAULT_ROLE_MAPPING,
  groupsFromClaims,
  mergeClaims,
  parseRoleMapping,
  personFromClaims,
  rolesForGroups,
  type TRoleMappingEntry,
} from "./oidc-mapping.ts";

function mapping(text = DEFAULT_ROLE_MAPPING): TRoleMappingEntry[] {
  const parsed = parseRoleMapping(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.mapping;
}

describe("role mapping", () => {
  it("parses the default: admins, approvers and auditors groups", () => {
    expect(mapping()).toEqual([
      { group: "portcullis-admins", role: "admin" },
      { group: "portcullis-approvers", role: "approver" },
      { group: "portcullis-auditors", role: "auditor" },
    ]);
  });

  it("splits at the last colon, tolerates spaces and empty items", () => {
    expect(mapping(" urn:corp:dba : admin ,, ops:approver,")).toEqual([
      { group: "urn:corp:dba", role: "admin" },
      { group: "ops", role: "approver" },
    ]);
    expect(mapping("")).toEqual([]);
  });

  it("refuses unknown roles and items without a group", () => {
    for (const bad of ["dba:root", "dba", ":admin", "dba:"]) {
      const parsed = parseRoleMapping(bad);
      expect(parsed.ok, bad).toBe(false);
    }
    const parsed = parseRoleMapping("a:admin,dba:superuser");
    expect(parsed.ok ? null : parsed.error).toContain('"dba:superuser"');
  });

  it("grants the mapped roles, in a stable order, and member to everyone else", () => {
    const m = mapping("ops:approver,dba:admin,dba:auditor");
    expect(rolesForGroups(["portcullis-approvers"], mapping())).toEqual(["approver"]);
    expect(rolesForGroups(["ops", "dba", "ops"], m)).toEqual(["admin", "approver", "auditor"]);
    expect(rolesForGroups(["contractors"], mapping())).toEqual(["member"]);
    expect(rolesForGroups([], mapping())).toEqual(["member"]);
    // Group names are compared exactly: a look-alike is not the admins group.
    expect(rolesForGroups(["Portcullis-Admins", "portcullis-admins "], mapping())).toEqual(["member"]);
  });
});

describe("groups claim", () => {
  it("reads arrays, a lone string, and nested claims", () => {
    expect(groupsFromClaims({ groups: ["a", " b ", "a", "", 7, null] }, "groups")).toEqual(["a", "b"]);
    expect(groupsFromClaims({ groups: "solo" }, "groups")).toEqual(["solo"]);
    expect(groupsFromClaims({ realm_access: { roles: ["x"] } }, "realm_access.roles")).toEqual(["x"]);
    expect(groupsFromClaims({ "https://corp/groups": ["y"] }, "https://corp/groups")).toEqual(["y"]);
    expect(groupsFromClaims({}, "groups")).toEqual([]);
    expect(groupsFromClaims({ groups: { a: 1 } }, "groups")).toEqual([]);
    expect(groupsFromClaims({ groups: ["x".repeat(201)] }, "groups")).toEqual([]);
  });
});

describe("person from claims", () => {
  const options = { groupsClaim: "groups", mapping: mapping() };

  it("takes the email as the identity name, lower-cased, with roles from groups", () => {
    expect(
      personFromClaims(
        { sub: "s-1", email: " Ada@Corp.Example ", name: "Ada", groups: ["portcullis-approvers", "eng"] },
        options,
      ),
    ).toEqual({
      ok: true,
      subject: "s-1",
      email: "ada@corp.example",
      displayName: "Ada",
      groups: ["portcullis-approvers", "eng"],
      roles: ["approver"],
    });
  });

  it("falls back to the username, then the email, for the display name", () => {
    const person = personFromClaims({ sub: "s", email: "a@b.example", preferred_username: "ab" }, options);
    expect(person.ok && person.displayName).toBe("ab");
    const bare = personFromClaims({ sub: "s", email: "a@b.example", name: "  " }, options);
    expect(bare.ok && bare.displayName).toBe("a@b.example");
    expect(bare.ok && bare.roles).toEqual(["member"]);
  });

  it("refuses without a usable, verified email", () => {
    expect(personFromClaims({ sub: "s" }, options)).toEqual({ ok: false, reason: "missing_email" });
    expect(personFromClaims({ sub: "s", email: "not-an-email" }, options)).toMatchObject({ ok: false });
    expect(personFromClaims({ sub: "s", email: "a@b.example", email_verified: false }, options)).toEqual({
      ok: false,
      reason: "unverified_email",
    });
    expect(
      personFromClaims({ sub: "s", email: "a@b.example", email_verified: "false" }, options),
    ).toMatchObject({ ok: false });
    expect(personFromClaims({ email: "a@b.example" }, options)).toEqual({
      ok: false,
      reason: "invalid_claims",
    });
    expect(personFromClaims({ sub: "s", email: "a@b.example", email_verified: true }, options).ok).toBe(true);
  });

  it("reads every string spelling of false as unverified, in any case", () => {
    for (const verified of ["FALSE", "False", "0", "no", "NO", " false "])
      expect(personFromClaims({ sub: "s", email: "a@b.example", email_verified: verified }, options)).toEqual(
        {
          ok: false,
          reason: "unverified_email",
        },
      );
    for (const verified of ["true", "TRUE", "1"])
      expect(personFromClaims({ sub: "s", email: "a@b.example", email_verified: verified }, options).ok).toBe(
        true,
      );
  });

  it("prefers signed ID token claims over userinfo", () => {
    expect(mergeClaims({ sub: "s", email: "id@x" }, { sub: "s", email: "ui@x", groups: ["g"] })).toEqual({
      sub: "s",
      email: "id@x",
      groups: ["g"],
    });
    expect(mergeClaims({ sub: "s" }, null)).toEqual({ sub: "s" });
    expect(() => mergeClaims({ sub: "s" }, { sub: "other", groups: ["portcullis-admins"] })).toThrow(
      /another subject/,
    );
  });
});
