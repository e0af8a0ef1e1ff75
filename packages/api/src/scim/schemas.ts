// Domain inputs and outputs of SCIM provisioning. The SCIM edge (rest.ts) turns protocol resources into these.
import { z } from "zod";
import { ZText } from "../lib/text.ts";

const ZName = ZText.trim().min(1).max(320);
const ZExternalId = ZText.max(500).nullable();

export const ZScimUserInput = z.object({
  userName: ZName,
  displayName: ZText.trim().min(1).max(200),
  externalId: ZExternalId,
  /** Absent: unchanged (a new person is active). */
  active: z.boolean().optional(),
});
export type TScimUserInput = z.infer<typeof ZScimUserInput>;

export const ZScimGroupInput = z.object({
  // Group names are matched exactly, as the groups claim and grants name them.
  displayName: ZText.trim().min(1).max(200),
  externalId: ZExternalId,
  memberIds: z.array(z.string()).max(50_000),
  membersBasis: z.array(z.string()).max(50_000).optional(),
});
export type TScimGroupInput = z.infer<typeof ZScimGroupInput>;

export const ZScimUserFilter = z.object({
  id: z.string().optional(),
  userName: z.string().optional(),
  externalId: z.string().optional(),
});
/** A window of a list: rows skipped, rows taken (RFC 7644 caps what a page may ask for; so does the edge). */
export const ZScimPage = z.object({
  skip: z.number().int().min(0),
  take: z.number().int().min(0).max(1000),
});

export const ZScimGroupFilter = z.object({
  id: z.string().optional(),
  displayName: z.string().optional(),
  externalId: z.string().optional(),
});

export const ZScimUserDto = z.object({
  id: z.uuid(),
  userName: z.string(),
  displayName: z.string(),
  externalId: z.string().nullable(),
  active: z.boolean(),
  groups: z.array(z.object({ id: z.uuid(), name: z.string() })),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type TScimUserDto = z.infer<typeof ZScimUserDto>;

export const ZScimGroupDto = z.object({
  id: z.uuid(),
  displayName: z.string(),
  externalId: z.string().nullable(),
  members: z.array(z.object({ id: z.uuid(), userName: z.string() })),
  createdAt: z.iso.datetime(),
});
export type TScimGroupDto = z.infer<typeof ZScimGroupDto>;
