// The public API v1 described as OpenAPI 3.1, generated from the same zod schemas the REST edge validates
// with (zod's own JSON Schema output), so the document cannot drift from what the server accepts.
import { z } from "zod";
import { APP_ERROR_CODES } from "./errors.ts";
import {
  ZAuditChainVerification,
  ZAuditEventDto,
  ZAuditEventPage,
  ZAuditEventQuery,
} from "./audit/schemas.ts";
import {
  ZAccessRequestDto,
  ZAccessRequestList,
  ZAccessRequestListInput,
  ZApprovalDto,
  ZApprovalList,
  ZApprovalListInput,
  ZCreateAccessRequestInput,
  ZDecideInput,
} from "./approvals/schemas.ts";
import { ZAuditStreamDto, ZCreateAuditStreamInput } from "./audit-streams/schemas.ts";
import { ZCredentialInput, ZIssuedCredential } from "./connections/schemas.ts";
import {
  ZActiveGrantDto,
  ZApiTokenDto,
  ZCreateApiTokenInput,
  ZCreatedApiToken,
  ZCreateIdentityInput,
  ZGrantDto,
  ZGrantInput,
  ZIdentityDto,
} from "./identities/schemas.ts";
import { ZConnectionSummary } from "./policy/schemas.ts";
import { ZLiveSessionDto } from "./sessions/schemas.ts";

type TJson = Record<string, unknown>;

const schema = (s: z.ZodType, io: "input" | "output" = "output"): TJson => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { io, unrepresentable: "any" }) as TJson;
  return rest;
};

const ZRestError = z.object({
  error: z.object({
    code: z.enum(APP_ERROR_CODES),
    message: z.string(),
  }),
});

const json = (ref: string) => ({ "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } });
const errors = {
  "400": { description: "Invalid input; the message names the offending field", content: json("Error") },
  "401": { description: "Missing, invalid, expired or revoked API token", content: json("Error") },
  "403": {
    description: "The token's identity lacks the role, or the token's scope excludes it",
    content: json("Error"),
  },
  "413": { description: "The request body is over 1 MB", content: json("Error") },
};
const idParameter = (what: string) => ({
  name: "id",
  in: "path",
  required: true,
  description: `The ${what}'s id`,
  schema: { type: "string", format: "uuid" },
});

function queryParameters(s: z.ZodType): TJson[] {
  const properties = (schema(s, "input").properties ?? {}) as Record<string, TJson>;
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: "query",
    required: false,
    ...(typeof property.description === "string" ? { description: property.description } : {}),
    schema: property,
  }));
}

export function openApiDocument(serverUrl: string): TJson {
  return {
    openapi: "3.1.0",
    info: {
      title: "Portcullis API",
      version: "1",
      description:
        "Automation API of the Portcullis control plane. Authenticate with `Authorization: Bearer <API token>`.",
    },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
    paths: {
      "/api/health": {
        get: {
          summary: "Liveness and store reachability",
          security: [],
          responses: {
            "200": { description: "Healthy" },
            "503": { description: "The store is unreachable" },
          },
        },
      },
      "/api/v1/audit-events": {
        get: {
          summary: "Audit events, newest first (auditor or admin)",
          description: "Filters combine with AND. Pass `nextCursor` back as `cursor` for the next page.",
          parameters: queryParameters(ZAuditEventQuery),
          responses: { "200": { description: "One page", content: json("AuditEventPage") }, ...errors },
        },
      },
      "/api/v1/audit-events/export": {
        get: {
          summary: "The filtered audit trail as CSV or JSON Lines, newest first, streamed (auditor or admin)",
          parameters: [
            {
              name: "format",
              in: "query",
              required: false,
              schema: { type: "string", enum: ["jsonl", "csv"] },
            },
            ...queryParameters(ZAuditEventQuery).filter((p) => p.name !== "limit" && p.name !== "cursor"),
          ],
          responses: {
            "200": {
              description: "At most 100,000 events per request",
              content: { "text/csv": {}, "application/x-ndjson": {} },
            },
            ...errors,
          },
        },
      },
      "/api/v1/audit-events/verify": {
        get: {
          summary: "Recompute the audit hash chain and report the first broken link (auditor or admin)",
          parameters: [
            {
              name: "anchor",
              in: "query",
              required: false,
              description:
                "A head an earlier verification reported, as <seq>:<hash>; repeatable. The chain must still hold each with its hash, so events cut off or re-hashed since are reported.",
              schema: { type: "array", items: { type: "string", pattern: "^\\d{1,19}:[0-9a-f]{64}$" } },
              style: "form",
              explode: true,
            },
          ],
          responses: {
            "200": { description: "The verification", content: json("ChainVerification") },
            ...errors,
          },
        },
      },
      "/api/v1/approvals": {
        get: {
          summary: "Held statements awaiting (or past) a decision, newest first (approver, admin or auditor)",
          parameters: queryParameters(ZApprovalListInput),
          responses: { "200": { description: "Approvals", content: json("ApprovalList") }, ...errors },
        },
      },
      "/api/v1/approvals/{id}/approve": {
        post: {
          summary: "Approve a held statement (approver or admin, never the requester); it runs at once",
          parameters: [idParameter("approval")],
          requestBody: { required: false, content: json("Decision") },
          responses: {
            "200": { description: "Decided", content: json("Approval") },
            "409": { description: "Already decided, or your own statement", content: json("Error") },
            ...errors,
          },
        },
      },
      "/api/v1/approvals/{id}/deny": {
        post: {
          summary: "Deny a held statement with a reason the requester's client shows",
          parameters: [idParameter("approval")],
          requestBody: { required: true, content: json("Decision") },
          responses: {
            "200": { description: "Decided", content: json("Approval") },
            "409": { description: "Already decided, or your own statement", content: json("Error") },
            ...errors,
          },
        },
      },
      "/api/v1/access-requests": {
        post: {
          summary: "Ask for just-in-time access to a connection for a while, with a reason (any identity)",
          requestBody: { required: true, content: json("CreateAccessRequest") },
          responses: { "201": { description: "Requested", content: json("AccessRequest") }, ...errors },
        },
        get: {
          summary: "Access requests, newest first (approver, admin or auditor)",
          parameters: queryParameters(ZAccessRequestListInput),
          responses: {
            "200": { description: "Access requests", content: json("AccessRequestList") },
            ...errors,
          },
        },
      },
      "/api/v1/access-requests/{id}/approve": {
        post: {
          summary: "Approve: a grant from now for the requested duration, ending by itself",
          parameters: [idParameter("access request")],
          requestBody: { required: false, content: json("Decision") },
          responses: { "200": { description: "Decided", content: json("AccessRequest") }, ...errors },
        },
      },
      "/api/v1/access-requests/{id}/deny": {
        post: {
          summary: "Deny an access request with a reason",
          parameters: [idParameter("access request")],
          requestBody: { required: true, content: json("Decision") },
          responses: { "200": { description: "Decided", content: json("AccessRequest") }, ...errors },
        },
      },
      "/api/v1/identities": {
        get: {
          summary: "Identities (admin or auditor)",
          responses: {
            "200": {
              description: "All identities (a token scoped to connections: its own)",
              content: {
                "application/json": {
                  schema: {
                    type: "object",
                    properties: {
                      items: { type: "array", items: { $ref: "#/components/schemas/Identity" } },
                    },
                  },
                },
              },
            },
            ...errors,
          },
        },
        post: {
          summary: "Create a service or AI-agent identity (admin, token not scoped to connections)",
          requestBody: { required: true, content: json("CreateIdentity") },
          responses: {
            "201": { description: "Created", content: json("Identity") },
            "409": { description: "The name is taken", content: json("Error") },
            ...errors,
          },
        },
      },
      "/api/v1/identities/{id}/tokens": {
        post: {
          summary:
            "Issue an API token to an identity (admin; a token scoped to connections: to its own identity, within its scope and lifetime); the secret is only in this response",
          parameters: [idParameter("identity")],
          requestBody: { required: true, content: json("CreateApiToken") },
          responses: { "201": { description: "Issued", content: json("CreatedApiToken") }, ...errors },
        },
      },
      "/api/v1/identities/{id}/deactivate": {
        post: {
          summary:
            "Deactivate an identity (admin, token not scoped to connections): its API tokens are revoked and agents end its sessions within seconds",
          parameters: [idParameter("identity")],
          responses: { "200": { description: "Deactivated", content: json("Identity") }, ...errors },
        },
      },
      "/api/v1/identities/{id}/reactivate": {
        post: {
          summary: "Reactivate an identity (admin); the tokens revoked at deactivation stay revoked",
          parameters: [idParameter("identity")],
          responses: { "200": { description: "Reactivated", content: json("Identity") }, ...errors },
        },
      },
      "/api/v1/tokens/{id}/revoke": {
        post: {
          summary:
            "Revoke an API token (admin, token not scoped to connections): the API refuses it at once, agents within seconds",
          parameters: [idParameter("token")],
          responses: { "200": { description: "Revoked", content: json("ApiToken") }, ...errors },
        },
      },
      "/api/v1/connections": {
        get: {
          summary: "Connections (admin, approver or auditor)",
          responses: {
            "200": {
              description: "All connections (a token scoped to connections: those)",
              content: {
                "application/json": {
                  schema: {
                    type: "object",
                    properties: {
                      items: { type: "array", items: { $ref: "#/components/schemas/Connection" } },
                    },
                  },
                },
              },
            },
            ...errors,
          },
        },
      },
      "/api/v1/connections/{id}/credentials": {
        post: {
          summary: "A short-lived database credential for the caller's own grant, as a connection string",
          description:
            "Signed by the control plane and verified offline by the agent; it stops admitting (and its sessions end) when it expires or the grant is revoked.",
          parameters: [idParameter("connection")],
          requestBody: { required: false, content: json("CredentialRequest") },
          responses: {
            "201": { description: "Issued", content: json("Credential") },
            "409": { description: "The agent serving the connection is offline", content: json("Error") },
            ...errors,
          },
        },
      },
      "/api/v1/grants/{id}/revoke": {
        post: {
          summary: "End a grant (admin): agents end the sessions standing on it within seconds",
          parameters: [idParameter("grant")],
          responses: { "200": { description: "Revoked" }, ...errors },
        },
      },
      "/api/v1/sessions": {
        get: {
          summary:
            "Live client sessions through the agents, newest first (admin or auditor; a token scoped to connections sees theirs)",
          responses: {
            "200": {
              description: "Live sessions",
              content: {
                "application/json": {
                  schema: {
                    type: "object",
                    properties: {
                      items: { type: "array", items: { $ref: "#/components/schemas/LiveSession" } },
                    },
                  },
                },
              },
            },
            ...errors,
          },
        },
      },
      "/api/v1/sessions/{id}/end": {
        post: {
          summary: "End a live session (admin): its agent closes it within seconds; optional body { reason }",
          parameters: [idParameter("session")],
          responses: { "200": { description: "Ending", content: json("LiveSession") }, ...errors },
        },
      },
      "/api/v1/audit-streams": {
        get: {
          summary: "Audit streams to SIEM collectors, with their delivery state (admin)",
          responses: {
            "200": {
              description: "All audit streams",
              content: {
                "application/json": {
                  schema: {
                    type: "object",
                    properties: {
                      items: { type: "array", items: { $ref: "#/components/schemas/AuditStream" } },
                    },
                  },
                },
              },
            },
            ...errors,
          },
        },
        post: {
          summary: "Stream the audit timeline to a collector as JSONL or OCSF (admin)",
          description:
            "Events are POSTed as application/x-ndjson in seq order, at least once: the stream's position moves only when the collector answers 2xx. The signing secret and Authorization value are stored encrypted and never returned.",
          requestBody: { required: true, content: json("CreateAuditStream") },
          responses: {
            "201": { description: "Created", content: json("AuditStream") },
            "409": { description: "The name is taken", content: json("Error") },
            ...errors,
          },
        },
      },
      "/api/v1/audit-streams/{id}": {
        delete: {
          summary: "Delete an audit stream (admin); its position in the timeline goes with it",
          parameters: [idParameter("audit stream")],
          responses: {
            "200": { description: "Deleted" },
            "404": { description: "No such audit stream", content: json("Error") },
            ...errors,
          },
        },
      },
      "/api/v1/audit-streams/{id}/pause": {
        post: {
          summary: "Pause an audit stream (admin): it keeps its position",
          parameters: [idParameter("audit stream")],
          responses: { "200": { description: "Paused", content: json("AuditStream") }, ...errors },
        },
      },
      "/api/v1/audit-streams/{id}/resume": {
        post: {
          summary: "Resume an audit stream (admin), retrying a failing one at once",
          parameters: [idParameter("audit stream")],
          responses: { "200": { description: "Resumed", content: json("AuditStream") }, ...errors },
        },
      },
      "/api/v1/grants": {
        get: {
          summary:
            "Grants in force: who may reach which connection, directly or through a group (admin, auditor)",
          responses: {
            "200": {
              description: "Active grants",
              content: {
                "application/json": {
                  schema: {
                    type: "object",
                    properties: {
                      items: { type: "array", items: { $ref: "#/components/schemas/ActiveGrant" } },
                    },
                  },
                },
              },
            },
            ...errors,
          },
        },
        post: {
          summary:
            "Grant an identity, or every member of a group (identityId or group), access to a connection, optionally until a time (admin)",
          requestBody: { required: true, content: json("Grant") },
          responses: { "201": { description: "Granted", content: json("GrantCreated") }, ...errors },
        },
      },
    },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "A Portcullis API token (pcat_…)" },
      },
      schemas: {
        Error: schema(ZRestError),
        AuditEvent: schema(ZAuditEventDto),
        AuditEventPage: schema(ZAuditEventPage),
        ChainVerification: schema(ZAuditChainVerification),
        Identity: schema(ZIdentityDto),
        LiveSession: schema(ZLiveSessionDto),
        CreateIdentity: schema(ZCreateIdentityInput, "input"),
        ApiToken: schema(ZApiTokenDto),
        CreateApiToken: schema(ZCreateApiTokenInput.omit({ identityId: true }), "input"),
        CreatedApiToken: schema(ZCreatedApiToken),
        Grant: schema(ZGrantInput, "input"),
        GrantCreated: schema(ZGrantDto),
        ActiveGrant: schema(ZActiveGrantDto),
        Connection: schema(ZConnectionSummary),
        Approval: schema(ZApprovalDto),
        ApprovalList: schema(ZApprovalList),
        Decision: schema(ZDecideInput.omit({ id: true }), "input"),
        AccessRequest: schema(ZAccessRequestDto),
        AccessRequestList: schema(ZAccessRequestList),
        CreateAccessRequest: schema(ZCreateAccessRequestInput, "input"),
        CredentialRequest: schema(ZCredentialInput.omit({ connectionId: true }), "input"),
        Credential: schema(ZIssuedCredential),
        AuditStream: schema(ZAuditStreamDto),
        CreateAuditStream: schema(ZCreateAuditStreamInput, "input"),
      },
    },
  };
}
