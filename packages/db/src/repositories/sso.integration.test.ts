import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type TDb } from "../client.ts";
import { listMigrations, migrate, MIGRATIONS_DIR } from "../migrator.ts";
import { createTestDatabase, newAuditEvent } from "../test-support.ts";
import { appendAuditEvents, verifyAuditChain } from "./audit-events.ts";
import { getPolicyRevision } from "./policy.ts";
import { SsoSubjectMismatchError, upsertSsoIdentity, type TSsoSignIn } from "./sso.ts";

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 4 });
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

const ISSUER = "https://idp.corp.example";

function signIn(overrides: Partial<TSsoSignIn>): TSsoSignIn {
  return {
    issuer: ISSUER,
    subject: "sub-ada",
    email: "ada@corp.example",
    displayName: "Ada Lovelace",
    groups: [],
    roles: ["member"],
    ...overrides,
  };
}

async function groupsOf(name: string): Promise<string[]> {
  const row = await db.identity.findUniqueOrThrow({
    where: { name },
    select: { memberships: { select: { group: { select: { name: true } } } } },
  });
  return row.memberships.map((m) => m.group.name).sort();
}

const ssoEvents = () =>
  db.auditEvent.findMany({
    where: { applicationName: "sso" },
    orderBy: { seq: "asc" },
    select: { message: true, actorName: true, details: true },
  });

describe("upsertSsoIdentity", () => {
  it("creates a person on first sign-in, with the mapped roles and the provider's groups", async () => {
    const revision = await getPolicyRevision(db);
    const identity = await upsertSsoIdentity(
      db,
      signIn({ groups: ["portcullis-approvers", "eng"], roles: ["approver"] }),
    );
    expect(identity).toMatchObject({
      name: "ada@corp.example",
      displayName: "Ada Lovelace",
      kind: "human",
      roles: ["approver"],
    });
    expect(identity?.groups.sort()).toEqual(["eng", "portcullis-approvers"]);
    expect(await db.group.count({ where: { name: { in: ["eng", "portcullis-approvers"] } } })).toBe(2);
    // Group membership reaches agents through snapshots: they must re-pull.
    expect(await getPolicyRevision(db)).toBeGreaterThan(revision);
    const [event] = await ssoEvents();
    expect(event).toMatchObject({
      actorName: "ada@corp.example",
      message:
        "single sign-on created ada@corp.example with roles approver and groups eng, portcullis-approvers",
      details: { sso: { issuer: ISSUER, subject: "sub-ada" }, created: true },
    });
  });

  it("changes nothing, and records nothing, when the provider says the same again", async () => {
    const revision = await getPolicyRevision(db);
    const identity = await upsertSsoIdentity(
      db,
      signIn({ groups: ["eng", "portcullis-approvers"], roles: ["approver"] }),
    );
    expect(identity?.roles).toEqual(["approver"]);
    expect(await getPolicyRevision(db)).toBe(revision);
    expect(await ssoEvents()).toHaveLength(1);
  });

  it("makes roles and groups exactly what the provider says, leaving other members alone", async () => {
    await upsertSsoIdentity(
      db,
      signIn({ email: "bob@corp.example", subject: "sub-bob", groups: ["eng"], roles: ["member"] }),
    );
    const identity = await upsertSsoIdentity(
      db,
      signIn({ groups: ["portcullis-admins", "dba"], roles: ["admin"], displayName: "Ada L." }),
    );
    expect(identity).toMatchObject({ roles: ["admin"], displayName: "Ada L." });
    expect(await groupsOf("ada@corp.example")).toEqual(["dba", "portcullis-admins"]);
    expect(await groupsOf("bob@corp.example")).toEqual(["eng"]);
    const events = await ssoEvents();
    expect(events.at(-1)?.message).toBe(
      "single sign-on updated ada@corp.example: roles approver → admin; joined dba, portcullis-admins; left eng, portcullis-approvers",
    );

    // Removed from every mapped group: back to member, and out of all groups (another admin remains).
    await db.identity.create({
      data: { name: "root@corp.example", displayName: "Root", kind: "human", roles: ["admin"] },
    });
    const demoted = await upsertSsoIdentity(db, signIn({ groups: [], roles: ["member"] }));
    expect(demoted).toMatchObject({ roles: ["member"], groups: [] });
  });

  it("takes over an identity created before SSO, matching the email case-insensitively", async () => {
    await db.identity.create({
      data: { name: "Grace@Corp.example", displayName: "Grace", kind: "human", roles: ["admin", "auditor"] },
    });
    const identity = await upsertSsoIdentity(
      db,
      signIn({ email: "grace@corp.example", subject: "sub-grace", roles: ["auditor"], groups: ["audit"] }),
    );
    expect(identity).toMatchObject({ name: "Grace@Corp.example", roles: ["auditor"], groups: ["audit"] });
    expect(
      await db.identity.count({ where: { name: { equals: "grace@corp.example", mode: "insensitive" } } }),
    ).toBe(1);
  });

  it("refuses disabled identities and non-people without changing them", async () => {
    await db.identity.create({
      data: {
        name: "mallory@corp.example",
        displayName: "Mallory",
        kind: "human",
        roles: ["member"],
        disabledAt: new Date(),
      },
    });
    await db.identity.create({
      data: { name: "etl@corp.example", displayName: "ETL", kind: "service", roles: ["member"] },
    });
    const before = await ssoEvents();
    for (const email of ["mallory@corp.example", "etl@corp.example"]) {
      expect(
        await upsertSsoIdentity(db, signIn({ email, groups: ["portcullis-admins"], roles: ["admin"] })),
      ).toBeNull();
      const row = await db.identity.findUniqueOrThrow({ where: { name: email }, select: { roles: true } });
      expect(row.roles).toEqual(["member"]);
      expect(await groupsOf(email)).toEqual([]);
    }
    expect(await ssoEvents()).toHaveLength(before.length);
  });

  it("creates one identity when the same person's first sign-ins race", async () => {
    const results = await Promise.all(
      Array.from({ length: 4 }, () =>
        upsertSsoIdentity(
          db,
          signIn({ email: "lin@corp.example", subject: "sub-lin", groups: ["eng"], roles: ["member"] }),
        ),
      ),
    );
    expect(new Set(results.map((r) => r?.id)).size).toBe(1);
    expect(await db.identity.count({ where: { name: "lin@corp.example" } })).toBe(1);
    expect(await groupsOf("lin@corp.example")).toEqual(["eng"]);
  });

  it("matches the email exactly, reading _ and % as themselves rather than as wildcards", async () => {
    const jadoe = await db.identity.create({
      data: { name: "jadoe@corp.example", displayName: "J. A. Doe", kind: "human", roles: ["admin"] },
      select: { id: true },
    });
    // A new subject whose email differs only where ILIKE would take a wildcard gets its own identity.
    const jDoe = await upsertSsoIdentity(
      db,
      signIn({ email: "j_doe@corp.example", subject: "sub-j_doe", roles: ["member"] }),
    );
    expect(jDoe).toMatchObject({ name: "j_doe@corp.example", roles: ["member"] });
    expect(jDoe?.id).not.toBe(jadoe.id);
    const percent = await upsertSsoIdentity(
      db,
      signIn({ email: "%@corp.example", subject: "sub-percent", roles: ["member"] }),
    );
    expect(percent).toMatchObject({ name: "%@corp.example", roles: ["member"] });
    expect(percent?.id).not.toBe(jadoe.id);
    const untouched = await db.identity.findUniqueOrThrow({
      where: { id: jadoe.id },
      select: { roles: true },
    });
    expect(untouched.roles).toEqual(["admin"]);

    // A name with a literal _ is still found in another case.
    const kept = await db.identity.create({
      data: { name: "Ka_Ren@Corp.example", displayName: "Karen", kind: "human", roles: ["member"] },
      select: { id: true },
    });
    const karen = await upsertSsoIdentity(
      db,
      signIn({ email: "ka_ren@corp.example", subject: "sub-karen", roles: ["member"] }),
    );
    expect(karen?.id).toBe(kept.id);
  });

  it("keeps the last active admin an admin, and says why, however the provider's groups change", async () => {
    // A world where no one else is an active admin.
    await db.identity.updateMany({ where: { disabledAt: null }, data: { disabledAt: new Date() } });
    const only = signIn({ email: "only@corp.example", subject: "sub-only" });
    await upsertSsoIdentity(db, { ...only, groups: ["portcullis-admins"], roles: ["admin"] });

    const kept = await upsertSsoIdentity(db, { ...only, groups: [], roles: ["member"] });
    expect(kept).toMatchObject({ groups: [] });
    expect(kept?.roles.sort()).toEqual(["admin", "member"]);
    const event = (await ssoEvents()).at(-1)!;
    expect(event.message).toBe(
      "single sign-on updated only@corp.example: roles admin → admin, member; left portcullis-admins; kept the admin role the provider's groups no longer give: this is the last active admin",
    );
    expect(event.details).toMatchObject({
      after: { roles: ["member", "admin"], groups: [] },
      keptAdmin: { reason: "last active admin", providerRoles: ["member"] },
    });
    // Signing in again changes nothing more, and records nothing more.
    const events = (await ssoEvents()).length;
    expect((await upsertSsoIdentity(db, { ...only, roles: ["member"] }))?.roles.sort()).toEqual([
      "admin",
      "member",
    ]);
    expect(await ssoEvents()).toHaveLength(events);

    // Once someone else is an admin, the provider's word holds.
    await upsertSsoIdentity(
      db,
      signIn({ email: "second@corp.example", subject: "sub-second", roles: ["admin"] }),
    );
    expect(await upsertSsoIdentity(db, { ...only, roles: ["member"] })).toMatchObject({ roles: ["member"] });

    // An admin by a Portcullis group's roles counts too, and is kept when leaving that group would end it.
    await db.group.create({ data: { name: "pc-root", roles: ["admin"] } });
    await upsertSsoIdentity(db, { ...only, groups: ["pc-root"], roles: ["member"] });
    await upsertSsoIdentity(
      db,
      signIn({ email: "second@corp.example", subject: "sub-second", roles: ["member"] }),
    );
    expect(
      (
        await db.identity.findUniqueOrThrow({
          where: { name: "second@corp.example" },
          select: { roles: true },
        })
      ).roles,
    ).toEqual(["member"]);
    const leftGroup = await upsertSsoIdentity(db, { ...only, groups: [], roles: ["member"] });
    expect(leftGroup).toMatchObject({ groups: [] });
    expect(leftGroup?.roles.sort()).toEqual(["admin", "member"]);
    expect((await ssoEvents()).at(-1)?.message).toMatch(/left pc-root; kept the admin role/);
  });

  it("binds an identity to the subject that first links it, and refuses another subject of that issuer", async () => {
    await db.identity.create({
      data: { name: "pat@corp.example", displayName: "Pat", kind: "human", roles: ["approver"] },
    });
    const pat = signIn({ email: "pat@corp.example", subject: "sub-pat", roles: ["approver"] });
    const linked = await upsertSsoIdentity(db, pat);
    expect(linked).toMatchObject({ name: "pat@corp.example", roles: ["approver"] });
    expect((await ssoEvents()).at(-1)).toMatchObject({
      message: `single sign-on updated pat@corp.example: bound to subject sub-pat at ${ISSUER}`,
      details: { sso: { issuer: ISSUER, subject: "sub-pat" }, boundFrom: null },
    });

    // Another account at the same provider asserting Pat's email: refused, recorded, nothing changed.
    const before = await db.identity.findUniqueOrThrow({
      where: { name: "pat@corp.example" },
      select: { roles: true, displayName: true, ssoIssuer: true, ssoSubject: true },
    });
    await expect(
      upsertSsoIdentity(db, { ...pat, subject: "sub-mallory", displayName: "M", roles: ["admin"] }),
    ).rejects.toThrow(SsoSubjectMismatchError);
    expect(
      await db.identity.findUniqueOrThrow({
        where: { name: "pat@corp.example" },
        select: { roles: true, displayName: true, ssoIssuer: true, ssoSubject: true },
      }),
    ).toEqual(before);
    expect(before).toMatchObject({ ssoIssuer: ISSUER, ssoSubject: "sub-pat" });
    const refusal = await db.auditEvent.findFirstOrThrow({
      where: { type: "auth_failure", applicationName: "sso" },
      orderBy: { seq: "desc" },
      select: { actorName: true, decision: true, message: true, details: true },
    });
    expect(refusal).toMatchObject({
      actorName: "pat@corp.example",
      decision: "denied",
      message:
        "single sign-on refused for pat@corp.example: the provider asserted its email for subject sub-mallory, but it is bound to subject sub-pat",
      details: {
        sso: { issuer: ISSUER, subject: "sub-mallory" },
        bound: { issuer: ISSUER, subject: "sub-pat" },
      },
    });

    // Pat still signs in; a replaced provider (another issuer) binds afresh, and says what it replaced.
    expect(await upsertSsoIdentity(db, pat)).toMatchObject({ id: linked?.id });
    await upsertSsoIdentity(db, { ...pat, issuer: "https://new-idp.corp.example", subject: "new-pat" });
    expect((await ssoEvents()).at(-1)?.message).toBe(
      `single sign-on updated pat@corp.example: bound to subject new-pat at https://new-idp.corp.example (was sub-pat at ${ISSUER})`,
    );
  });

  it("lets only one of two subjects racing to link an unbound identity have it", async () => {
    await db.identity.create({
      data: { name: "quinn@corp.example", displayName: "Quinn", kind: "human", roles: ["member"] },
    });
    const results = await Promise.allSettled(
      ["sub-quinn-1", "sub-quinn-2"].map((subject) =>
        upsertSsoIdentity(db, signIn({ email: "quinn@corp.example", subject, roles: ["member"] })),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const row = await db.identity.findUniqueOrThrow({
      where: { name: "quinn@corp.example" },
      select: { ssoSubject: true },
    });
    const winner = results.findIndex((r) => r.status === "fulfilled");
    expect(row.ssoSubject).toBe(`sub-quinn-${winner + 1}`);
  });

  it("keeps the audit chain valid", async () => {
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true });
  });
});

describe("the migration binding identities that signed in before it", () => {
  it("binds each to the subject of its first recorded sign-in change", async () => {
    const database = await createTestDatabase({ migrate: false });
    const before = await mkdtemp(path.join(tmpdir(), "pc-migrations-"));
    const db = createDb(database.url, { poolMax: 2 });
    try {
      // The store as it was just before the migration, with an identity that signed in twice.
      for (const m of await listMigrations())
        if (m.name < "20261203000000_identity_sso_subject")
          await cp(path.join(MIGRATIONS_DIR, m.name), path.join(before, m.name), { recursive: true });
      await migrate(database.url, before);
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      const { rows } = await client.query<{ id: string }>(
        `INSERT INTO identities (id, name, display_name, kind, roles, updated_at)
         VALUES (gen_random_uuid(), 'old@corp.example', 'Old', 'human', '{member}', now()) RETURNING id`,
      );
      await client.end();
      const id = rows[0]!.id;
      const ssoEvent = (subject: string) =>
        newAuditEvent({
          type: "admin_change",
          actorId: id,
          actorName: "old@corp.example",
          applicationName: "sso",
          details: { sso: { issuer: ISSUER, subject } },
        });
      await appendAuditEvents(db, [ssoEvent("sub-first"), ssoEvent("sub-later")]);

      await migrate(database.url);
      expect(
        await db.identity.findUniqueOrThrow({ where: { id }, select: { ssoIssuer: true, ssoSubject: true } }),
      ).toEqual({ ssoIssuer: ISSUER, ssoSubject: "sub-first" });
      await expect(
        upsertSsoIdentity(db, signIn({ email: "old@corp.example", subject: "sub-other" })),
      ).rejects.toThrow(SsoSubjectMismatchError);
    } finally {
      await db.$disconnect();
      await rm(before, { recursive: true, force: true });
      await database.drop();
    }
  });
});
