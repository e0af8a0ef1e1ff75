// SCIM 2.0 provisioning against a real store: requests shaped as Okta and Entra ID send them, through the
// SCIM edge, the store, and the policy snapshot agents enforce.
import {
  authenticateApiToken,
  buildPolicySnapshot,
  createDb,
  deriveSecretKey,
  listAuditEvents,
  setIdentityActive,
  upsertSsoIdentity,
  type TDb,
} from "@portcullis/db";
import { createTestDatabase } from "@portcullis/db/test-support";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { apiCaller, seedApiTestStore, TEST_TOKENS } from "../test-support.ts";
import { scimRest } from "./rest.ts";

const secretKey = deriveSecretKey("scim-test-secret");
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: TDb;
let connectionId: string;
let agentId: string;
/** Errors the edge reported as unexpected (our bugs): every test ends with none. */
const unexpected: unknown[] = [];

const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

interface TScimAnswer {
  status: number;
  contentType: string | null;
  location: string | null;
  authenticate: string | null;
  body: TScimBody;
}

/** What the tests read of SCIM answers (resources, list responses and errors). */
interface TScimBody {
  id?: string;
  userName?: string;
  displayName?: string;
  externalId?: string;
  active?: boolean;
  members?: { value: string; display?: string }[];
  groups?: unknown[];
  totalResults?: number;
  startIndex?: number;
  itemsPerPage?: number;
  Resources?: TScimBody[];
  status?: string;
  scimType?: string;
  detail?: string;
  name?: unknown;
  [key: string]: unknown;
}

/** One SCIM request, as the identity provider sends it (the route passes what follows /scim/v2). */
async function scim(
  method: string,
  pathAndQuery: string,
  body?: unknown,
  token: string | null = TEST_TOKENS.admin,
): Promise<TScimAnswer> {
  const headers = new Headers({ "content-type": "application/scim+json" });
  if (token) headers.set("authorization", `Bearer ${token}`);
  const request = new Request(`http://portcullis.test/scim/v2/${pathAndQuery}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const path = pathAndQuery.split("?")[0]!.split("/");
  const response = await scimRest.handle(db, request, path, (error) => unexpected.push(error));
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    location: response.headers.get("location"),
    authenticate: response.headers.get("www-authenticate"),
    body: text === "" ? {} : (JSON.parse(text) as TScimBody),
  };
}

const filter = (expression: string) => `filter=${encodeURIComponent(expression)}`;

function oktaUser(userName: string, givenName: string, familyName: string, externalId: string) {
  return {
    schemas: [USER_SCHEMA],
    userName,
    name: { givenName, familyName },
    emails: [{ primary: true, value: userName, type: "work" }],
    active: true,
    externalId,
  };
}

async function provision(userName: string): Promise<string> {
  const created = await scim("POST", "Users", oktaUser(userName, "First", "Last", `ext-${userName}`));
  expect(created.status).toBe(201);
  return created.body.id as string;
}

/** Who the agent admits to the test connection: identity name → number of usable tokens. */
async function admitted(): Promise<Record<string, number>> {
  const connection = (await buildPolicySnapshot(db, agentId, { secretKey })).connections.find(
    (c) => c.id === connectionId,
  )!;
  return Object.fromEntries(
    connection.grants
      .filter((g) => g.identityName.endsWith("@corp.example"))
      .map((g) => [
        g.identityName,
        connection.credentials.filter((c) => c.identityId === g.identityId).length,
      ]),
  );
}

const admin = () => apiCaller(db, TEST_TOKENS.admin, secretKey);

async function tokenFor(identityId: string): Promise<string> {
  return (await admin().identities.createToken({ identityId, name: "laptop" })).token;
}

function signIn(email: string, groups: string[]) {
  return upsertSsoIdentity(db, {
    issuer: "https://idp.example",
    subject: email,
    email,
    displayName: email,
    groups,
    roles: ["member"],
  });
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { poolMax: 2 });
  ({ agentId, connectionId } = await seedApiTestStore(db, { guardrails: [], maskingRules: [] }));
});

afterEach(() => {
  expect(unexpected).toEqual([]);
});

afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

describe("SCIM provisioning", () => {
  it("creates a person as Okta does, and deactivating them ends their access at once", async () => {
    const lookup = await scim(
      "GET",
      `Users?${filter('userName eq "ana@corp.example"')}&startIndex=1&count=100`,
    );
    expect(lookup.status).toBe(200);
    expect(lookup.contentType).toBe("application/scim+json");
    expect(lookup.body).toMatchObject({ totalResults: 0, Resources: [] });

    const created = await scim("POST", "Users", oktaUser("Ana@Corp.example", "Ana", "Lopez", "00u-ana"));
    expect(created.status).toBe(201);
    const ana = created.body.id as string;
    expect(created.location).toBe(`http://portcullis.test/scim/v2/Users/${ana}`);
    expect(created.body).toMatchObject({
      schemas: [USER_SCHEMA],
      userName: "ana@corp.example",
      displayName: "Ana Lopez",
      externalId: "00u-ana",
      active: true,
      meta: { resourceType: "User", location: `/scim/v2/Users/${ana}` },
    });

    // userName is not case-exact (RFC 7643), as sign-in matches emails.
    const found = await scim("GET", `Users?${filter('userName eq "ANA@corp.example"')}`);
    expect(found.body.totalResults).toBe(1);
    expect(found.body.Resources![0]!.id).toBe(ana);

    const token = await tokenFor(ana);
    await admin().identities.grant({ identityId: ana, connectionId, reason: "on call" });
    expect(await admitted()).toEqual({ "ana@corp.example": 1 });
    expect(await authenticateApiToken(db, token)).not.toBeNull();

    const deactivated = await scim("PATCH", `Users/${ana}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: "replace", value: { active: false } }],
    });
    expect(deactivated.status).toBe(200);
    expect(deactivated.body.active).toBe(false);
    expect(await admitted()).toEqual({});
    expect(await authenticateApiToken(db, token)).toBeNull();
    expect(await signIn("ana@corp.example", [])).toBeNull(); // nor the dashboard

    const events = await listAuditEvents(db, { type: "admin_change", text: "SCIM" }, { limit: 10 });
    expect(events.items.map((e) => [e.actorName, e.applicationName, e.message])).toEqual([
      ["admin@demo.local", "scim", "SCIM updated ana@corp.example: deactivated"],
      ["admin@demo.local", "scim", "SCIM created ana@corp.example"],
    ]);

    // Entra ID sends booleans as strings. Reactivation does not bring the old token back.
    const reactivated = await scim("PATCH", `Users/${ana}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: "Replace", path: "active", value: "True" }],
    });
    expect(reactivated.status).toBe(200);
    expect(reactivated.body.active).toBe(true);
    expect(await authenticateApiToken(db, token)).toBeNull();
    expect(await admitted()).toEqual({ "ana@corp.example": 0 });
    await tokenFor(ana);
    expect(await admitted()).toEqual({ "ana@corp.example": 1 });

    // PUT replaces: a new display name, the same person.
    const replaced = await scim("PUT", `Users/${ana}`, {
      schemas: [USER_SCHEMA],
      userName: "ana@corp.example",
      displayName: "Ana López",
      active: true,
    });
    expect(replaced.body).toMatchObject({ id: ana, displayName: "Ana López" });
    expect(replaced.body.externalId).toBeUndefined();
  });

  it("takes a SCIM-managed group's members from SCIM alone, whatever a sign-in's groups claim says", async () => {
    const carl = await provision("carl@corp.example");
    const dina = await provision("dina@corp.example");
    await tokenFor(carl);
    await tokenFor(dina);

    const created = await scim("POST", "Groups", {
      schemas: [GROUP_SCHEMA],
      displayName: "db-oncall",
      externalId: "grp-1",
      members: [{ value: carl }],
    });
    expect(created.status).toBe(201);
    const group = created.body.id as string;
    expect(created.body.members).toEqual([{ value: carl, display: "carl@corp.example", type: "User" }]);
    await admin().identities.grant({ group: "db-oncall", connectionId, reason: "on-call rota" });
    expect(await admitted()).toMatchObject({ "carl@corp.example": 1 });
    expect(await admitted()).not.toHaveProperty("dina@corp.example");

    // Entra ID's shape: capitalised ops, a member added by value and one removed by a filter.
    const patched = await scim("PATCH", `Groups/${group}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [
        { op: "Add", path: "members", value: [{ value: dina }] },
        { op: "Remove", path: `members[value eq "${carl}"]` },
      ],
    });
    expect(patched.status).toBe(200);
    expect(patched.body.members!.map((m) => m.value)).toEqual([dina]);
    let now = await admitted();
    expect(now).toMatchObject({ "dina@corp.example": 1 });
    expect(now).not.toHaveProperty("carl@corp.example");

    // A stale groups claim does not put carl back, and an empty one does not take dina out.
    await signIn("carl@corp.example", ["db-oncall"]);
    await signIn("dina@corp.example", []);
    now = await admitted();
    expect(now).toMatchObject({ "dina@corp.example": 1 });
    expect(now).not.toHaveProperty("carl@corp.example");
    const carlNow = await scim("GET", `Users/${carl}`);
    expect(carlNow.body.groups ?? []).toEqual([]);

    const listed = await scim(
      "GET",
      `Groups?${filter('displayName eq "db-oncall"')}&excludedAttributes=members`,
    );
    expect(listed.body.totalResults).toBe(1);
    expect(listed.body.Resources![0]!).toMatchObject({
      id: group,
      displayName: "db-oncall",
      externalId: "grp-1",
    });
    expect(listed.body.Resources![0]!.members).toBeUndefined();

    // Okta renames with a replace that carries the whole group.
    const renamed = await scim("PATCH", `Groups/${group}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: "replace", value: { id: group, displayName: "db-on-call" } }],
    });
    expect(renamed.body).toMatchObject({ displayName: "db-on-call" });

    const removed = await scim("DELETE", `Groups/${group}`);
    expect(removed.status).toBe(204);
    expect((await scim("GET", `Groups/${group}`)).status).toBe(404);
    expect(await admitted()).not.toHaveProperty("dina@corp.example");
    const events = await listAuditEvents(db, { type: "admin_change", text: "group db-on" }, { limit: 10 });
    expect(events.items.map((e) => e.message ?? "").filter((m) => m.startsWith("SCIM"))).toEqual([
      "SCIM deleted group db-on-call (1 members; its grants to demo ended)",
      "SCIM updated group db-on-call: renamed db-oncall → db-on-call",
      `SCIM updated group db-oncall: added dina@corp.example; removed carl@corp.example`,
      "SCIM created group db-oncall with carl@corp.example",
    ]);
  });

  it("deletes a person: out of groups and grants, gone from SCIM, and a rehire is the same identity", async () => {
    const erin = await provision("erin@corp.example");
    const token = await tokenFor(erin);
    await admin().identities.grant({ identityId: erin, connectionId, reason: "project" });
    await scim("POST", "Groups", {
      schemas: [GROUP_SCHEMA],
      displayName: "analysts",
      members: [{ value: erin }],
    });
    expect(await admitted()).toMatchObject({ "erin@corp.example": 1 });

    expect((await scim("DELETE", `Users/${erin}`)).status).toBe(204);
    expect((await scim("GET", `Users/${erin}`)).status).toBe(404);
    expect((await scim("GET", `Users?${filter('userName eq "erin@corp.example"')}`)).body.totalResults).toBe(
      0,
    );
    expect(await admitted()).not.toHaveProperty("erin@corp.example");
    expect(await authenticateApiToken(db, token)).toBeNull();
    const analysts = await scim("GET", `Groups?${filter('displayName eq "analysts"')}`);
    expect(analysts.body.Resources![0]!.members ?? []).toEqual([]);

    const rehired = await scim("POST", "Users", oktaUser("erin@corp.example", "Erin", "Ng", "00u-erin-2"));
    expect(rehired.status).toBe(201);
    expect(rehired.body).toMatchObject({ id: erin, active: true, externalId: "00u-erin-2" });
    await tokenFor(erin);
    expect(await admitted()).not.toHaveProperty("erin@corp.example"); // the old grant stays ended
    expect(await authenticateApiToken(db, token)).toBeNull();
  });

  it("answers bad requests and the wrong callers with SCIM errors, and changes nothing", async () => {
    const noToken = await scim("GET", "Users", undefined, null);
    expect(noToken.status).toBe(401);
    expect(noToken.authenticate).toMatch(/^Bearer/);
    expect(noToken.body).toMatchObject({
      schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"],
      status: "401",
    });
    expect((await scim("GET", "Users", undefined, "pcat_wrong")).status).toBe(401);
    expect((await scim("GET", "Users", undefined, TEST_TOKENS.developer)).status).toBe(403);
    const seeded = await admin().identities.list();
    const adminId = seeded.find((i) => i.name === "admin@demo.local")!.id;
    const scoped = await admin().identities.createToken({
      identityId: adminId,
      name: "scoped",
      connectionIds: [connectionId],
    });
    const scopedAnswer = await scim("POST", "Users", oktaUser("x@corp.example", "X", "Y", "x"), scoped.token);
    expect(scopedAnswer.status).toBe(403);
    expect(scopedAnswer.body.detail).toMatch(/not scoped to connections/);

    const frank = await provision("frank@corp.example");
    const duplicate = await scim("POST", "Users", oktaUser("FRANK@corp.example", "F", "K", "other"));
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.scimType).toBe("uniqueness");
    expect((await scim("POST", "Users", { schemas: [USER_SCHEMA], displayName: "No name" })).status).toBe(
      400,
    );
    const badJson = await scim("POST", "Users", "{not json");
    expect(badJson.status).toBe(400);
    expect(badJson.body.scimType).toBe("invalidSyntax");
    for (const broken of ["userName eq", 'userName qq "x"', '(userName eq "x"']) {
      const answer = await scim("GET", `Users?${filter(broken)}`);
      expect(answer.status).toBe(400);
      expect(answer.body.scimType).toBe("invalidFilter");
    }
    expect((await scim("GET", "Users/not-a-uuid")).status).toBe(404);
    expect((await scim("GET", "Users/6f1c0a4e-9d1b-4c2e-8f3a-000000000000")).status).toBe(404);
    expect((await scim("GET", "Widgets")).status).toBe(404);

    const group = await scim("POST", "Groups", {
      schemas: [GROUP_SCHEMA],
      displayName: "auditors-x",
      members: [{ value: frank }],
    });
    const unknownMember = await scim("PATCH", `Groups/${group.body.id}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [
        { op: "add", path: "members", value: [{ value: "6f1c0a4e-9d1b-4c2e-8f3a-000000000000" }] },
      ],
    });
    expect(unknownMember.status).toBe(400);
    expect((await scim("GET", `Groups/${group.body.id}`)).body.members!.map((m) => m.value)).toEqual([frank]);

    // Services and AI agents are Portcullis's own: not SCIM users, not changeable over SCIM.
    const copilot = seeded.find((i) => i.kind === "ai_agent")!;
    const users = await scim("GET", "Users");
    expect(users.body.Resources!.map((u) => u.userName)).not.toContain(copilot.name);
    const patchAgent = await scim("PATCH", `Users/${copilot.id}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: "replace", value: { active: false } }],
    });
    expect(patchAgent.status).toBe(404);
    expect((await admin().identities.list()).find((i) => i.id === copilot.id)!.disabled).toBe(false);

    // Discovery needs no token.
    const config = await scim("GET", "ServiceProviderConfig", undefined, null);
    expect(config.status).toBe(200);
    expect(config.body).toMatchObject({
      patch: { supported: true },
      filter: { supported: true, maxResults: 500 },
    });
    const types = await scim("GET", "ResourceTypes", undefined, null);
    expect(types.body.Resources!.map((r) => String(r.name)).sort()).toEqual(["Group", "User"]);
  });

  it("applies concurrent PATCHes of one group all, and leaves its services and AI agents alone", async () => {
    const people = await Promise.all(
      ["p1", "p2", "p3", "p4", "p5"].map((p) => provision(`${p}@corp.example`)),
    );
    const created = await scim("POST", "Groups", { schemas: [GROUP_SCHEMA], displayName: "burst" });
    const group = created.body.id as string;
    const copilot = (await admin().identities.list()).find((i) => i.kind === "ai_agent")!;
    await db.groupMember.create({ data: { groupId: group, identityId: copilot.id } });

    const answers = await Promise.all(
      people.map((person) =>
        scim("PATCH", `Groups/${group}`, {
          schemas: [PATCH_SCHEMA],
          Operations: [{ op: "add", path: "members", value: [{ value: person }] }],
        }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    const after = await scim("GET", `Groups/${group}`);
    expect(after.body.members!.map((m) => m.value).sort()).toEqual([...people].sort());

    // A PUT replaces the people; the AI agent, which the provider does not see, stays a member.
    const replaced = await scim("PUT", `Groups/${group}`, {
      schemas: [GROUP_SCHEMA],
      displayName: "burst",
      members: [{ value: people[0] }],
    });
    expect(replaced.body.members!.map((m) => m.value)).toEqual([people[0]]);
    const rows = await db.groupMember.findMany({ where: { groupId: group }, select: { identityId: true } });
    expect(rows.map((r) => r.identityId).sort()).toEqual([people[0]!, copilot.id].sort());
  });

  it("keeps an admin's lockout, a profile PUT's silence on active, and a rehire's old roles out", async () => {
    const gil = await provision("gil@corp.example");
    // An admin deactivates gil in Portcullis (an incident); the provider still thinks gil is active.
    await setIdentityActive(
      db,
      { id: "00000000-0000-0000-0000-000000000001", name: "ops@corp.example", kind: "human" },
      { identityId: gil, active: false },
    );
    const pushed = await scim("PATCH", `Users/${gil}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: "replace", value: { active: true, displayName: "Gil R" } }],
    });
    expect(pushed.status).toBe(200);
    expect(pushed.body).toMatchObject({ active: false, displayName: "Gil R" });
    const events = await listAuditEvents(db, { text: "gil@corp.example" }, { limit: 1 });
    expect(events.items[0]!.message).toBe(
      'SCIM updated gil@corp.example: display name "Gil R"; stays deactivated (an admin deactivated it in Portcullis)',
    );

    // SCIM's own deactivation is lifted by SCIM; a PUT that leaves active out changes nothing.
    const hal = await provision("hal@corp.example");
    await scim("PATCH", `Users/${hal}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: "replace", path: "active", value: false }],
    });
    const put = await scim("PUT", `Users/${hal}`, {
      schemas: [USER_SCHEMA],
      userName: "hal@corp.example",
      displayName: "Hal",
    });
    expect(put.body.active).toBe(false);

    // A rehire does not get the roles the identity had.
    await db.identity.update({ where: { id: hal }, data: { roles: ["admin"] } });
    expect((await scim("DELETE", `Users/${hal}`)).status).toBe(204);
    const rehired = await scim("POST", "Users", oktaUser("hal@corp.example", "Hal", "B", "00u-hal"));
    expect(rehired.body.id).toBe(hal);
    expect(
      (await db.identity.findUniqueOrThrow({ where: { id: hal }, select: { roles: true } })).roles,
    ).toEqual([]);
  });

  it("answers simultaneous creates of one name with one 201 and 409s", async () => {
    const users = await Promise.all(
      [1, 2, 3].map(() => scim("POST", "Users", oktaUser("ivy@corp.example", "I", "V", "x"))),
    );
    expect(users.map((a) => a.status).sort()).toEqual([201, 409, 409]);
    const groups = await Promise.all(
      [1, 2, 3].map(() => scim("POST", "Groups", { schemas: [GROUP_SCHEMA], displayName: "same-time" })),
    );
    expect(groups.map((a) => a.status).sort()).toEqual([201, 409, 409]);
  });

  it("keeps local accounts, its own identity and groups that give roles out of the provider's reach", async () => {
    // The seeded admin signs in with a password: a local account, not a SCIM user.
    const local = (await admin().identities.list()).find((i) => i.name === "admin@demo.local")!;
    expect((await scim("GET", `Users?${filter('userName eq "admin@demo.local"')}`)).body.totalResults).toBe(
      0,
    );
    expect((await scim("DELETE", `Users/${local.id}`)).status).toBe(404);

    // A person who administers Portcullis and set up SCIM with their own token cannot lock it out.
    const owner = (await upsertSsoIdentity(db, {
      issuer: "https://idp.example",
      subject: "it",
      email: "it-admin@corp.example",
      displayName: "IT",
      groups: [],
      roles: ["admin"],
    }))!;
    const ownerToken = await tokenFor(owner.id);
    const selfOff = await scim(
      "PATCH",
      `Users/${owner.id}`,
      { schemas: [PATCH_SCHEMA], Operations: [{ op: "replace", value: { active: false } }] },
      ownerToken,
    );
    expect(selfOff.status).toBe(403);
    expect((await scim("DELETE", `Users/${owner.id}`, undefined, ownerToken)).status).toBe(403);
    expect(await authenticateApiToken(db, ownerToken)).not.toBeNull();

    // A group that gives the admin role: listed, but its members are Portcullis's to manage.
    const admins = await db.group.create({
      data: { name: "pc-admins", roles: ["admin"] },
      select: { id: true },
    });
    const jo = await provision("jo@corp.example");
    const join = await scim("PATCH", `Groups/${admins.id}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: "add", path: "members", value: [{ value: jo }] }],
    });
    expect(join.status).toBe(403);
    expect(join.body.detail).toMatch(/gives the Portcullis roles admin/);
    expect((await scim("DELETE", `Groups/${admins.id}`)).status).toBe(403);
    expect(await db.groupMember.count({ where: { groupId: admins.id } })).toBe(0);

    // A group made by a grant (or sign-in) is found case-insensitively, and deleted only once SCIM owns it.
    await admin().identities.grant({ group: "Night-Shift", connectionId, reason: "nights" });
    const found = await scim("GET", `Groups?${filter('displayName eq "night-shift"')}`);
    expect(found.body.totalResults).toBe(1);
    const nightId = found.body.Resources![0]!.id!;
    expect((await scim("DELETE", `Groups/${nightId}`)).status).toBe(403);
    expect((await scim("GET", `Groups?${filter('externalId eq ""')}`)).body.totalResults).toBe(0);
  });

  it("pages a list as providers page it, past the end included", async () => {
    for (const n of [1, 2, 3, 4, 5]) await provision(`pg-${n}@corp.example`);
    const page = async (query: string) => {
      const answer = await scim("GET", `Users?${filter('userName sw "pg-"')}&sortBy=userName&${query}`);
      return {
        status: answer.status,
        total: answer.body.totalResults,
        start: answer.body.startIndex,
        items: answer.body.itemsPerPage,
        names: (answer.body.Resources ?? []).map((u) => u.userName!.slice(0, 4)),
      };
    };
    expect(await page("startIndex=1&count=2")).toEqual({
      status: 200,
      total: 5,
      start: 1,
      items: 2,
      names: ["pg-1", "pg-2"],
    });
    expect((await page("startIndex=3&count=2")).names).toEqual(["pg-3", "pg-4"]);
    expect((await page("startIndex=5&count=2")).names).toEqual(["pg-5"]);
    // Past the end: an empty page, not the whole list again.
    expect(await page("startIndex=6&count=2")).toEqual({
      status: 200,
      total: 5,
      start: 6,
      items: 0,
      names: [],
    });
    expect((await page("startIndex=0&count=1")).names).toEqual(["pg-1"]);
    expect(await page("count=0")).toMatchObject({ total: 5, items: 0, names: [] });
    const bad = await scim("GET", "Users?count=abc");
    expect(bad.status).toBe(400);
    expect(bad.body.scimType).toBe("invalidValue");
  });

  it("pages an unfiltered list (a full sync) from the store, each user and group once", async () => {
    for (const n of [1, 2, 3]) {
      const id = await provision(`sync-${n}@corp.example`);
      await scim("POST", "Groups", {
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        displayName: `sync-group-${n}`,
        members: [{ value: id }],
      });
    }
    const walk = async (resource: "Users" | "Groups", extra: string) => {
      const seen: TScimBody[] = [];
      const totals = new Set<number>();
      for (let start = 1; ; start += 2) {
        const answer = await scim("GET", `${resource}?startIndex=${start}&count=2${extra}`);
        expect(answer.status).toBe(200);
        expect(answer.body.startIndex).toBe(start);
        totals.add(answer.body.totalResults!);
        const items = answer.body.Resources ?? [];
        expect(answer.body.itemsPerPage).toBe(items.length);
        if (items.length === 0) break;
        expect(items.length).toBeLessThanOrEqual(2);
        seen.push(...items);
      }
      expect([...totals]).toEqual([seen.length]);
      return seen;
    };
    const users = await walk("Users", "&attributes=userName");
    const stored = await db.identity.findMany({
      where: { kind: "human", scimDeletedAt: null, passwordHash: null },
      select: { name: true },
    });
    expect(users.map((u) => u.userName).sort()).toEqual(stored.map((u) => u.name).sort());
    // The attribute selection still applies, as on a filtered list: the id and what was asked for.
    expect(Object.keys(users[0]!).sort()).toEqual(["id", "userName"]);
    const filtered = await scim(
      "GET",
      `Users?${filter('userName eq "sync-1@corp.example"')}&attributes=userName`,
    );
    expect(Object.keys(filtered.body.Resources![0]!).sort()).toEqual(["id", "userName"]);
    const groups = await walk("Groups", "&excludedAttributes=members");
    expect(groups.map((g) => g.displayName).sort()).toEqual(
      (await db.group.findMany({ select: { name: true } })).map((g) => g.name).sort(),
    );
    expect(groups.every((g) => g.members === undefined)).toBe(true);
    // A page far past the end is empty, as on the filtered path.
    const far = await scim("GET", "Users?startIndex=99999999999999999999&count=2");
    expect(far.status).toBe(200);
    expect(far.body).toMatchObject({ totalResults: users.length, itemsPerPage: 0 });
    const withMembers = await scim("GET", `Groups?startIndex=1&count=500`);
    const synced = withMembers.body.Resources!.find((g) => g.displayName === "sync-group-2");
    expect(synced?.members?.map((m) => m.display)).toEqual(["sync-2@corp.example"]);
  });

  it("lets concurrent PATCHes of one person each change only their own fields", async () => {
    for (const round of [1, 2, 3, 4]) {
      const kim = await provision(`kim${round}@corp.example`);
      const [off, renamed] = await Promise.all([
        scim("PATCH", `Users/${kim}`, {
          schemas: [PATCH_SCHEMA],
          Operations: [{ op: "replace", path: "active", value: false }],
        }),
        scim("PATCH", `Users/${kim.toUpperCase()}`, {
          schemas: [PATCH_SCHEMA],
          Operations: [{ op: "replace", path: "displayName", value: `Kim ${round}` }],
        }),
      ]);
      expect([off.status, renamed.status]).toEqual([200, 200]);
      expect((await scim("GET", `Users/${kim}`)).body).toMatchObject({
        active: false,
        displayName: `Kim ${round}`,
      });
    }
  });

  it("is not fooled by upper-case ids, nor lifts an admin's lockout by deleting and re-creating", async () => {
    const owner = (await upsertSsoIdentity(db, {
      issuer: "https://idp.example",
      subject: "it2",
      email: "it-admin-2@corp.example",
      displayName: "IT 2",
      groups: [],
      roles: ["admin"],
    }))!;
    const ownerToken = await tokenFor(owner.id);
    const selfOff = await scim(
      "PATCH",
      `Users/${owner.id.toUpperCase()}`,
      { schemas: [PATCH_SCHEMA], Operations: [{ op: "replace", value: { active: false } }] },
      ownerToken,
    );
    expect(selfOff.status).toBe(403);

    const people = await Promise.all(["u1", "u2", "u3"].map((p) => provision(`${p}@corp.example`)));
    const group = (await scim("POST", "Groups", { schemas: [GROUP_SCHEMA], displayName: "upper" })).body.id!;
    await Promise.all(
      people.map((person) =>
        scim("PATCH", `Groups/${group.toUpperCase()}`, {
          schemas: [PATCH_SCHEMA],
          Operations: [{ op: "add", path: "members", value: [{ value: person.toUpperCase() }] }],
        }),
      ),
    );
    expect((await scim("GET", `Groups/${group}`)).body.members!.map((m) => m.value).sort()).toEqual(
      [...people].sort(),
    );

    // A provider spelling the group in another case links it without renaming it.
    const relinked = await scim("PUT", `Groups/${group}`, {
      schemas: [GROUP_SCHEMA],
      displayName: "UPPER",
      members: people.map((value) => ({ value })),
    });
    expect(relinked.body.displayName).toBe("upper");
    expect((await scim("POST", "Groups", { schemas: [GROUP_SCHEMA], displayName: "Upper" })).status).toBe(
      409,
    );

    const lee = await provision("lee@corp.example");
    await setIdentityActive(
      db,
      { id: owner.id, name: owner.name, kind: "human" },
      { identityId: lee, active: false },
    );
    expect((await scim("DELETE", `Users/${lee}`)).status).toBe(204);
    const back = await scim("POST", "Users", oktaUser("lee@corp.example", "Lee", "C", "00u-lee"));
    expect(back.body).toMatchObject({ id: lee, active: false });
    // Nor may an admin bring back someone the provider deleted: the provider would never see them again.
    const gone = await provision("gone@corp.example");
    expect((await scim("DELETE", `Users/${gone}`)).status).toBe(204);
    await expect(
      setIdentityActive(
        db,
        { id: owner.id, name: owner.name, kind: "human" },
        { identityId: gone, active: true },
      ),
    ).rejects.toThrow(/deleted at the identity provider/);
  });

  it("matches userName and displayName exactly in any case, reading _ and % as themselves", async () => {
    const users = async (userName: string) =>
      (await scim("GET", `Users?${filter(`userName eq "${userName}"`)}`)).body.Resources ?? [];
    const jadoe = await provision("jadoe@corp.example");
    expect(await users("j_doe@corp.example")).toEqual([]);
    expect(await users("%@corp.example")).toEqual([]);
    expect((await users("JaDoe@Corp.Example")).map((u) => u.id)).toEqual([jadoe]);

    // A deleted jadoe is not brought back as j_doe (with jadoe's history), nor does jadoe block the name.
    expect((await scim("DELETE", `Users/${jadoe}`)).status).toBe(204);
    const jDoe = await provision("j_doe@corp.example");
    expect(jDoe).not.toBe(jadoe);
    expect((await users("J_Doe@corp.example")).map((u) => u.id)).toEqual([jDoe]);
    const ja = await provision("ja%e@corp.example");
    expect((await users("ja%e@corp.example")).map((u) => u.id)).toEqual([ja]);

    const groups = async (displayName: string) =>
      (await scim("GET", `Groups?${filter(`displayName eq "${displayName}"`)}`)).body.Resources ?? [];
    const created = await scim("POST", "Groups", { schemas: [GROUP_SCHEMA], displayName: "db-admins" });
    expect(created.status).toBe(201);
    const dbAdmins = created.body.id!;
    expect(await groups("db_admins")).toEqual([]);
    expect(await groups("%")).toEqual([]);
    expect((await groups("DB-Admins")).map((g) => g.id)).toEqual([dbAdmins]);
    const underscore = await scim("POST", "Groups", { schemas: [GROUP_SCHEMA], displayName: "db_admins" });
    expect(underscore.status).toBe(201);
    expect((await groups("DB_ADMINS")).map((g) => g.id)).toEqual([underscore.body.id]);
    // Renaming to a name another group matches only as a LIKE pattern is not a conflict.
    const renamed = await scim("PUT", `Groups/${underscore.body.id}`, {
      schemas: [GROUP_SCHEMA],
      displayName: "db%admins",
      members: [],
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body.displayName).toBe("db%admins");
  });
});
