// The SCIM 2.0 edge (RFC 7643/7644) at /scim/v2: identity providers (Okta, Entra ID, JumpCloud, ...) provision
// people and groups with an admin's API token. SCIMMY does the protocol (resource schemas, filters,
// attribute selection, PatchOp, list responses, error messages); this file maps its resources onto the SCIM
// service, which knows nothing of the protocol. Errors are SCIM Error messages with the HTTP status in them.
import type { TDb } from "@portcullis/db";
import SCIMMY from "scimmy";
import { requireRoles, resolveCaller, type TCaller } from "../auth.ts";
import { AppError, httpStatusOf } from "../errors.ts";
import { readBodyText } from "../lib/request-body.ts";
import { scimService } from "./service.ts";
import type { TScimGroupDto, TScimUserDto, TScimUserInput } from "./schemas.ts";

export const SCIM_BASE_PATH = "/scim/v2";
/** Most a list response holds; providers page with startIndex and count. */
const MAX_RESULTS = 500;

interface TScimContext {
  db: TDb;
  caller: TCaller;
  method: string;
  /** What each resource read in this request was (by lower-case id): a PATCH sends only what it changed. */
  seenMembers: Map<string, string[]>;
  seenUsers: Map<string, TScimUserDto>;
  onUnexpected: (error: unknown) => void;
  /**
   * For a list with no filter and no sortBy: the page to read from the store, and (set by the read) how many
   * there are in all. Unset, a list reads every match and the page is cut from them.
   */
  page?: { skip: number; take: number; total?: number };
}

type TAttributes = Record<string, unknown>;
type TScimError = InstanceType<typeof SCIMMY.Types.Error>;

/** SCIMMY's typings want a scimType string; its code, like RFC 7644, allows none. */
const scimError = (status: number, message: string, scimType?: string): TScimError =>
  new SCIMMY.Types.Error(status, scimType as string, message);

const SCIM_TYPE_OF: Partial<Record<AppError["code"], string>> = {
  CONFLICT: "uniqueness",
  BAD_REQUEST: "invalidValue",
};

/** Handlers run inside SCIMMY, which turns any error that is not its own into a 404: keep ours as they are. */
function asScimError(error: unknown): TScimError {
  if (error instanceof SCIMMY.Types.Error) return error;
  if (error instanceof AppError)
    return scimError(httpStatusOf(error.code), error.message, SCIM_TYPE_OF[error.code]);
  return scimError(500, "Internal server error");
}

async function scimHandler<T>(ctx: TScimContext, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof AppError) && !(error instanceof SCIMMY.Types.Error)) ctx.onUnexpected(error);
    throw asScimError(error);
  }
}

function userResource(user: TScimUserDto) {
  return {
    id: user.id,
    ...(user.externalId ? { externalId: user.externalId } : {}),
    userName: user.userName,
    displayName: user.displayName,
    name: { formatted: user.displayName },
    active: user.active,
    ...(user.userName.includes("@")
      ? { emails: [{ value: user.userName, type: "work", primary: true }] }
      : {}),
    groups: user.groups.map((g) => ({ value: g.id, display: g.name, type: "direct" })),
    meta: { created: new Date(user.createdAt), lastModified: new Date(user.updatedAt) },
  };
}

function groupResource(group: TScimGroupDto) {
  return {
    id: group.id,
    ...(group.externalId ? { externalId: group.externalId } : {}),
    displayName: group.displayName,
    members: group.members.map((m) => ({ value: m.id, display: m.userName, type: "User" })),
    meta: { created: new Date(group.createdAt) },
  };
}

function stringAt(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/** A SCIM user as the service takes it. Providers send a display name, a structured name, or only a userName. */
function userInput(instance: TAttributes) {
  const name = (instance.name ?? {}) as TAttributes;
  const userName = stringAt(instance.userName);
  const fromParts = [stringAt(name.givenName), stringAt(name.familyName)].filter(Boolean).join(" ");
  return {
    userName,
    displayName: stringAt(instance.displayName) ?? stringAt(name.formatted) ?? (fromParts || userName),
    externalId: stringAt(instance.externalId) ?? null,
    // Left out (a PUT of the profile only): the service keeps the person as active or inactive as they are.
    active: instance.active,
  };
}

/**
 * SCIMMY applies a PATCH to the resource as it read it and hands over the whole result: keep only what the
 * operations changed, so a concurrent PATCH's change (another's deactivation, say) is not written back over.
 */
function changedFrom(seen: TScimUserDto, input: ReturnType<typeof userInput>): Partial<TScimUserInput> {
  return {
    ...(input.userName !== undefined && input.userName.toLowerCase() !== seen.userName
      ? { userName: input.userName }
      : {}),
    ...(input.displayName !== undefined && input.displayName !== seen.displayName
      ? { displayName: input.displayName }
      : {}),
    ...(input.externalId !== seen.externalId ? { externalId: input.externalId } : {}),
    ...(input.active !== undefined && input.active !== seen.active
      ? { active: input.active as boolean }
      : {}),
  };
}

function groupInput(instance: TAttributes) {
  const members = Array.isArray(instance.members) ? (instance.members as TAttributes[]) : [];
  return {
    displayName: stringAt(instance.displayName),
    externalId: stringAt(instance.externalId) ?? null,
    memberIds: members.map((m) => String(m.value ?? "")),
  };
}

/**
 * The one equality most provider lookups use (`userName eq "x"`, `displayName eq "x"`, `externalId eq "x"`),
 * so they are answered by an index rather than by reading every row; anything else SCIMMY matches itself.
 */
function simpleEquality(
  filter: SCIMMY.Types.Filter | undefined,
  attributes: readonly string[],
): Record<string, string> | null {
  if (!filter || filter.length !== 1) return null;
  const expression = filter[0] as Record<string, unknown>;
  const keys = Object.keys(expression);
  if (keys.length !== 1) return null;
  const attribute = attributes.find((a) => a.toLowerCase() === keys[0]!.toLowerCase());
  const test = expression[keys[0]!];
  if (!attribute || !Array.isArray(test) || test[0] !== "eq" || typeof test[1] !== "string") return null;
  return { [attribute]: test[1] };
}

/** SCIMMY reads `userName eq` (no value) as a comparison with nothing; every operator but `pr` needs one. */
function assertComplete(filter: SCIMMY.Types.Filter | undefined): void {
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      if (typeof node[0] === "string" && node[0].toLowerCase() !== "pr" && node.length < 2)
        throw scimError(400, `The filter's '${node[0]}' has no value to compare with`, "invalidFilter");
      if (typeof node[0] !== "string") node.forEach(walk);
    } else if (typeof node === "object" && node !== null) Object.values(node).forEach(walk);
  };
  walk(filter ? [...filter] : []);
}

let declared = false;

/** SCIMMY keeps its resources in module state: declared once per process; each request's state travels in ctx. */
function declareResources(): void {
  if (declared) return;
  declared = true;
  SCIMMY.Config.set({
    documentationUri: "https://github.com/portcullis/portcullis#provisioning-with-scim",
    patch: true,
    filter: { supported: true, maxResults: MAX_RESULTS },
    sort: true,
    authenticationSchemes: [
      {
        type: "oauthbearertoken",
        name: "Bearer API token",
        description: "An API token of a Portcullis admin, not scoped to connections",
        primary: true,
      },
    ],
  });

  SCIMMY.Resources.declare(SCIMMY.Resources.User)
    .egress((resource, ctx: TScimContext) =>
      scimHandler(ctx, async () => {
        if (resource.id) {
          const user = await scimService.getUser(ctx.db, ctx.caller, resource.id);
          ctx.seenUsers.set(user.id, user);
          return userResource(user);
        }
        if (ctx.page && !resource.filter) {
          const { total, users } = await scimService.pageUsers(ctx.db, ctx.caller, ctx.page);
          ctx.page.total = total;
          return users.map(userResource);
        }
        assertComplete(resource.filter);
        const narrowed = simpleEquality(resource.filter, ["userName", "externalId", "id"]);
        const users = (await scimService.listUsers(ctx.db, ctx.caller, narrowed ?? {})).map(userResource);
        return resource.filter && !narrowed ? resource.filter.match(users) : users;
      }),
    )
    .ingress((resource, instance, ctx: TScimContext) =>
      scimHandler(ctx, async () => {
        const input = userInput(instance as unknown as TAttributes);
        const seen =
          resource.id && ctx.method === "PATCH" ? ctx.seenUsers.get(resource.id.toLowerCase()) : undefined;
        const user = resource.id
          ? await scimService.updateUser(
              ctx.db,
              ctx.caller,
              resource.id,
              seen ? changedFrom(seen, input) : input,
            )
          : await scimService.createUser(ctx.db, ctx.caller, input);
        return userResource(user);
      }),
    )
    .degress((resource, ctx: TScimContext) =>
      scimHandler(ctx, () => scimService.deleteUser(ctx.db, ctx.caller, String(resource.id))),
    );

  SCIMMY.Resources.declare(SCIMMY.Resources.Group)
    .egress((resource, ctx: TScimContext) =>
      scimHandler(ctx, async () => {
        if (resource.id) {
          const group = await scimService.getGroup(ctx.db, ctx.caller, resource.id);
          ctx.seenMembers.set(
            group.id,
            group.members.map((m) => m.id),
          );
          return groupResource(group);
        }
        if (ctx.page && !resource.filter) {
          const { total, groups } = await scimService.pageGroups(ctx.db, ctx.caller, ctx.page);
          ctx.page.total = total;
          return groups.map(groupResource);
        }
        assertComplete(resource.filter);
        const narrowed = simpleEquality(resource.filter, ["displayName", "externalId", "id"]);
        const groups = (await scimService.listGroups(ctx.db, ctx.caller, narrowed ?? {})).map(groupResource);
        return resource.filter && !narrowed ? resource.filter.match(groups) : groups;
      }),
    )
    .ingress((resource, instance, ctx: TScimContext) =>
      scimHandler(ctx, async () => {
        const input = groupInput(instance as unknown as TAttributes);
        const basis =
          resource.id && ctx.method === "PATCH" ? ctx.seenMembers.get(resource.id.toLowerCase()) : undefined;
        const group = resource.id
          ? await scimService.updateGroup(ctx.db, ctx.caller, resource.id, {
              ...input,
              ...(basis ? { membersBasis: basis } : {}),
            })
          : await scimService.createGroup(ctx.db, ctx.caller, input);
        return groupResource(group);
      }),
    )
    .degress((resource, ctx: TScimContext) =>
      scimHandler(ctx, () => scimService.deleteGroup(ctx.db, ctx.caller, String(resource.id))),
    );

  SCIMMY.Resources.User.basepath(SCIM_BASE_PATH);
  SCIMMY.Resources.Group.basepath(SCIM_BASE_PATH);
  SCIMMY.Resources.ResourceType.basepath(SCIM_BASE_PATH);
  SCIMMY.Resources.Schema.basepath(SCIM_BASE_PATH);
  SCIMMY.Resources.ServiceProviderConfig.basepath(SCIM_BASE_PATH);
}

function scimResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  if (status === 204) return new Response(null, { status, headers: { "cache-control": "no-store" } });
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/scim+json", "cache-control": "no-store", ...headers },
  });
}

function scimErrorResponse(error: TScimError): Response {
  const message = new SCIMMY.Messages.Error(error);
  return scimResponse(
    message,
    Number(message.status),
    Number(message.status) === 401 ? { "www-authenticate": 'Bearer realm="scim"' } : {},
  );
}

/** A SCIM group PATCH may list thousands of members: 4 MB, as the web server allows under /scim. */
const MAX_SCIM_BODY_BYTES = 4 * 1024 * 1024;

async function readBody(request: Request): Promise<unknown> {
  let text: string;
  try {
    text = await readBodyText(request, MAX_SCIM_BODY_BYTES);
  } catch (error) {
    if (error instanceof AppError) throw scimError(413, error.message);
    throw error;
  }
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw scimError(400, "The request body must be JSON", "invalidSyntax");
  }
}

/**
 * Entra ID sends PatchOp booleans as the strings "True" and "False" (RFC 7644 wants JSON booleans); read them
 * as what they mean rather than refusing every deactivation it sends.
 */
function withBooleanActive(message: unknown): unknown {
  if (typeof message !== "object" || message === null) return message;
  const operations = (message as { Operations?: unknown }).Operations;
  if (!Array.isArray(operations)) return message;
  const asBoolean = (v: unknown) =>
    typeof v === "string" && /^(true|false)$/i.test(v) ? v.toLowerCase() === "true" : v;
  return {
    ...message,
    Operations: operations.map((op: unknown) => {
      if (typeof op !== "object" || op === null) return op;
      const { path, value } = op as { path?: unknown; value?: unknown };
      if (typeof path === "string" && path.toLowerCase() === "active")
        return { ...op, value: asBoolean(value) };
      if (path === undefined && typeof value === "object" && value !== null && "active" in value)
        return { ...op, value: { ...value, active: asBoolean((value as { active: unknown }).active) } };
      return op;
    }),
  };
}

/** startIndex and count as RFC 7644 §3.4.2.4 reads them: below 1 is 1, a negative count is 0. */
function pageOf(url: URL): { startIndex: number; count: number } {
  const integer = (name: string, fallback: number) => {
    const text = url.searchParams.get(name);
    if (text === null || text === "") return fallback;
    if (!/^-?\d+$/.test(text)) throw scimError(400, `${name} must be an integer`, "invalidValue");
    return Number(text);
  };
  return {
    startIndex: Math.max(integer("startIndex", 1), 1),
    count: Math.min(Math.max(integer("count", MAX_RESULTS), 0), MAX_RESULTS),
  };
}

function listQuery(url: URL) {
  const get = (name: string) => url.searchParams.get(name) || undefined;
  return {
    ...selection(url),
    ...(get("filter") ? { filter: get("filter") } : {}),
    ...(get("sortBy") ? { sortBy: get("sortBy") } : {}),
    ...(get("sortOrder") ? { sortOrder: get("sortOrder") } : {}),
  };
}

/**
 * A page of a list. Without a filter or sortBy (a provider's full sync) the store reads just that page.
 * Otherwise SCIMMY filters and sorts every match, and the page is cut here: SCIMMY pages by itself but
 * returns everything when startIndex is past the end (so a provider paging on would import every user again).
 */
async function listPage(Resource: TResourceClass, url: URL, ctx: TScimContext) {
  const { startIndex, count } = pageOf(url);
  const query = listQuery(url);
  const fromStore = query.filter === undefined && query.sortBy === undefined;
  // Past 2^31 rows is past the end of any directory (and of what the store takes as an offset).
  if (fromStore) ctx.page = { skip: Math.min(startIndex - 1, 2 ** 31 - 1), take: count };
  const all = (await new Resource(undefined, {
    ...query,
    startIndex: 1,
    count: Number.MAX_SAFE_INTEGER,
  }).read(ctx)) as { schemas: string[]; totalResults: number; Resources: unknown[] };
  // Read from the store only if the handler did (it set the total); otherwise `all` is every match.
  const total = ctx.page?.total;
  const page =
    total !== undefined ? all.Resources : all.Resources.slice(startIndex - 1, startIndex - 1 + count);
  return {
    schemas: all.schemas,
    totalResults: total ?? all.totalResults,
    startIndex,
    itemsPerPage: page.length,
    Resources: page,
  };
}

type TResourceClass = typeof SCIMMY.Resources.User | typeof SCIMMY.Resources.Group;

async function handleResource(
  Resource: TResourceClass,
  request: Request,
  id: string | undefined,
  ctx: TScimContext,
): Promise<Response> {
  const url = new URL(request.url);
  if (request.method === "GET" && id === undefined) return scimResponse(await listPage(Resource, url, ctx));
  const resource = new Resource(id, id === undefined ? {} : selection(url));
  switch (request.method) {
    case "GET":
      return scimResponse(await resource.read(ctx));
    case "POST": {
      if (id !== undefined) throw scimError(405, "POST creates: send it to the collection");
      const created = (await resource.write(await readBody(request), ctx)) as { id?: string };
      return scimResponse(created, 201, { location: `${url.origin}${url.pathname}/${created.id ?? ""}` });
    }
    case "PUT":
      if (id === undefined) throw scimError(405, "PUT replaces one resource: name its id");
      return scimResponse(await resource.write(await readBody(request), ctx));
    case "PATCH": {
      if (id === undefined) throw scimError(405, "PATCH changes one resource: name its id");
      const patched = await resource.patch(withBooleanActive(await readBody(request)) as never, ctx);
      // Nothing changed: SCIMMY returns nothing; answer with the resource as it stands.
      return scimResponse(patched ?? (await resource.read(ctx)));
    }
    case "DELETE":
      if (id === undefined) throw scimError(405, "DELETE removes one resource: name its id");
      await resource.dispose(ctx);
      return scimResponse(null, 204);
    default:
      throw scimError(405, `${request.method} is not a SCIM operation`);
  }
}

function selection(url: URL) {
  const attributes = url.searchParams.get("attributes");
  const excludedAttributes = url.searchParams.get("excludedAttributes");
  return {
    ...(attributes ? { attributes } : {}),
    ...(excludedAttributes ? { excludedAttributes } : {}),
  };
}

async function authorizedContext(
  db: TDb,
  request: Request,
  onUnexpected: (error: unknown) => void,
): Promise<TScimContext> {
  const caller = requireRoles(await resolveCaller(db, { headers: request.headers, session: null }), [
    "admin",
  ]);
  if (caller.via !== "api_token") throw new AppError("UNAUTHORIZED", "SCIM needs a bearer API token");
  return { db, caller, method: request.method, seenMembers: new Map(), seenUsers: new Map(), onUnexpected };
}

export const scimRest = {
  /**
   * Answers one SCIM request. `path` is what follows /scim/v2 (["Users"], ["Groups", id], ...). Discovery
   * (ServiceProviderConfig, ResourceTypes, Schemas) needs no token, as RFC 7644 allows; the rest does.
   */
  async handle(
    db: TDb,
    request: Request,
    path: string[],
    onUnexpected: (error: unknown) => void = () => undefined,
  ): Promise<Response> {
    declareResources();
    try {
      const [endpoint, id, ...rest] = path;
      if (rest.length > 0) throw scimError(404, "No such SCIM endpoint");
      if (endpoint === "ServiceProviderConfig" && id === undefined && request.method === "GET")
        return scimResponse(await new SCIMMY.Resources.ServiceProviderConfig().read());
      if (endpoint === "ResourceTypes" && request.method === "GET")
        return scimResponse(
          await (id ? new SCIMMY.Resources.ResourceType(id) : new SCIMMY.Resources.ResourceType()).read(),
        );
      if (endpoint === "Schemas" && request.method === "GET")
        return scimResponse(
          await (id ? new SCIMMY.Resources.Schema(id) : new SCIMMY.Resources.Schema()).read(),
        );
      if (endpoint === "Users" || endpoint === "Groups") {
        const ctx = await authorizedContext(db, request, onUnexpected);
        return await handleResource(
          endpoint === "Users" ? SCIMMY.Resources.User : SCIMMY.Resources.Group,
          request,
          id,
          ctx,
        );
      }
      throw scimError(404, "No such SCIM endpoint");
    } catch (error) {
      if (!(error instanceof AppError) && !(error instanceof SCIMMY.Types.Error)) onUnexpected(error);
      return scimErrorResponse(asScimError(error));
    }
  },
};
