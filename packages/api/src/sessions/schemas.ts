import { z } from "zod";
import { ZText } from "../lib/text.ts";

export const ZLiveSessionDto = z.object({
  sessionId: z.uuid(),
  startedAt: z.iso.datetime(),
  identity: z.object({ name: z.string(), kind: z.string() }),
  connection: z.object({ id: z.string(), name: z.string(), environment: z.string() }),
  agentId: z.uuid(),
  clientAddr: z.string(),
  applicationName: z.string(),
});
export type TLiveSessionDto = z.infer<typeof ZLiveSessionDto>;
export const ZLiveSessionList = z.array(ZLiveSessionDto);

export const ZEndSessionInput = z.object({
  sessionId: z.uuid().transform((id) => id.toLowerCase()),
  /** Why, for the timeline (optional). */
  reason: ZText.trim().max(500).default(""),
});
