import { z } from "zod";
import { ZText } from "../lib/text.ts";

export const ZAgentDto = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(["online", "offline", "never_connected"]),
  version: z.string().nullable(),
  hostname: z.string().nullable(),
  lastHeartbeatAt: z.string().nullable(),
  /** When the agent's current process started (agents before this field: null). */
  startedAt: z.string().nullable(),
  connections: z.array(z.object({ id: z.string(), name: z.string(), environment: z.string() })),
  openEnrollments: z.number().int(),
});
export type TAgentDto = z.infer<typeof ZAgentDto>;
export const ZAgentList = z.array(ZAgentDto);

export const ZIssueEnrollmentInput = z
  .object({
    /** An existing agent (re-enrollment, e.g. a replaced host) or a new one. */
    name: ZText.trim()
      .min(1)
      .max(63)
      .regex(/^[a-z0-9][a-z0-9._-]*$/, "lower-case letters, digits, '.', '_' and '-'"),
    expiresInMinutes: z
      .number()
      .int()
      .min(5)
      .max(7 * 24 * 60)
      .default(60),
  })
  .strict();

export const ZIssuedEnrollment = z.object({
  agentId: z.string(),
  agentName: z.string(),
  /** One-time token, shown once; the agent exchanges it for its own credential on first connect. */
  token: z.string(),
  expiresAt: z.string(),
});
