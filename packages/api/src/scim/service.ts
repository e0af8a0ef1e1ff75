// SCIM provisioning (admins with an unscoped API token: the identity provider's). Transport-free: the SCIM
// edge passes plain input; failures are AppErrors.
import {
  createScimGroup,
  createScimUser,
  deleteScimGroup,
  deleteScimUser,
  listScimGroups,
  listScimUsers,
  pageScimGroups,
  pageScimUsers,
  updateScimGroup,
  updateScimUser,
  type TDb,
  type TScimGroupRow,
  type TScimUserRow,
} from "@portcullis/db";
import { z } from "zod";
import { requireUnscoped, type TCaller } from "../auth.ts";
import { AppError } from "../errors.ts";
import { mapDbErrors } from "../lib/db-errors.ts";
import { parseInput, parseOutput } from "../lib/validate.ts";
import {
  ZScimGroupDto,
  ZScimGroupFilter,
  ZScimGroupInput,
  ZScimPage,
  ZScimUserDto,
  ZScimUserFilter,
  ZScimUserInput,
  type TScimGroupDto,
  type TScimUserDto,
} from "./schemas.ts";

/** Provisioning changes who may reach every connection: a token scoped to some cannot do it. */
function requireProvisioner(caller: TCaller): void {
  if (!caller.identity.roles.includes("admin"))
    throw new AppError("FORBIDDEN", "SCIM provisioning needs an admin's API token");
  requireUnscoped(caller, "SCIM provisioning changes access to every connection");
}

const isUuid = (id: string) => z.uuid().safeParse(id).success;

/** An id that is not a uuid names nothing here: 404 rather than a database error. */
function requireId(id: string, what: string): string {
  if (!isUuid(id)) throw new AppError("NOT_FOUND", `${what} ${id} does not exist`);
  // As the store writes them: a comparison with the caller's own id must not be fooled by case.
  return id.toLowerCase();
}

function toUserDto(row: TScimUserRow): TScimUserDto {
  return parseOutput(
    ZScimUserDto,
    { ...row, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() },
    "SCIM user",
  );
}

function toGroupDto(row: TScimGroupRow): TScimGroupDto {
  return parseOutput(ZScimGroupDto, { ...row, createdAt: row.createdAt.toISOString() }, "SCIM group");
}

export const scimService = {
  async listUsers(db: TDb, caller: TCaller, rawFilter: unknown = {}): Promise<TScimUserDto[]> {
    requireProvisioner(caller);
    const filter = parseInput(ZScimUserFilter, rawFilter);
    if (filter.id !== undefined && !isUuid(filter.id)) return [];
    return (await listScimUsers(db, filter)).map(toUserDto);
  },

  /** A page of all users (no filter) and their number, read from the store page by page. */
  async pageUsers(
    db: TDb,
    caller: TCaller,
    rawPage: unknown,
  ): Promise<{ total: number; users: TScimUserDto[] }> {
    requireProvisioner(caller);
    const { total, rows } = await pageScimUsers(db, parseInput(ZScimPage, rawPage));
    return { total, users: rows.map(toUserDto) };
  },

  async getUser(db: TDb, caller: TCaller, id: string): Promise<TScimUserDto> {
    requireProvisioner(caller);
    const row = (await listScimUsers(db, { id: requireId(id, "User") }))[0];
    if (!row) throw new AppError("NOT_FOUND", `User ${id} does not exist`);
    return toUserDto(row);
  },

  async createUser(db: TDb, caller: TCaller, rawInput: unknown): Promise<TScimUserDto> {
    requireProvisioner(caller);
    const input = parseInput(ZScimUserInput, rawInput);
    return toUserDto(await mapDbErrors(() => createScimUser(db, caller.identity, input)));
  },

  /** A PUT sends every attribute; a PATCH only those it changed (the rest stay as they are). */
  async updateUser(db: TDb, caller: TCaller, id: string, rawInput: unknown): Promise<TScimUserDto> {
    requireProvisioner(caller);
    const input = parseInput(ZScimUserInput.partial(), rawInput);
    return toUserDto(
      await mapDbErrors(() => updateScimUser(db, caller.identity, requireId(id, "User"), input)),
    );
  },

  async deleteUser(db: TDb, caller: TCaller, id: string): Promise<void> {
    requireProvisioner(caller);
    await mapDbErrors(() => deleteScimUser(db, caller.identity, requireId(id, "User")));
  },

  async listGroups(db: TDb, caller: TCaller, rawFilter: unknown = {}): Promise<TScimGroupDto[]> {
    requireProvisioner(caller);
    const filter = parseInput(ZScimGroupFilter, rawFilter);
    if (filter.id !== undefined && !isUuid(filter.id)) return [];
    return (await listScimGroups(db, filter)).map(toGroupDto);
  },

  async pageGroups(
    db: TDb,
    caller: TCaller,
    rawPage: unknown,
  ): Promise<{ total: number; groups: TScimGroupDto[] }> {
    requireProvisioner(caller);
    const { total, rows } = await pageScimGroups(db, parseInput(ZScimPage, rawPage));
    return { total, groups: rows.map(toGroupDto) };
  },

  async getGroup(db: TDb, caller: TCaller, id: string): Promise<TScimGroupDto> {
    requireProvisioner(caller);
    const row = (await listScimGroups(db, { id: requireId(id, "Group") }))[0];
    if (!row) throw new AppError("NOT_FOUND", `Group ${id} does not exist`);
    return toGroupDto(row);
  },

  async createGroup(db: TDb, caller: TCaller, rawInput: unknown): Promise<TScimGroupDto> {
    requireProvisioner(caller);
    const input = parseInput(ZScimGroupInput, rawInput);
    requireMemberIds(input.memberIds);
    input.memberIds = input.memberIds.map((m) => m.toLowerCase());
    return toGroupDto(await mapDbErrors(() => createScimGroup(db, caller.identity, input)));
  },

  async updateGroup(db: TDb, caller: TCaller, id: string, rawInput: unknown): Promise<TScimGroupDto> {
    requireProvisioner(caller);
    const input = parseInput(ZScimGroupInput, rawInput);
    requireMemberIds(input.memberIds);
    requireMemberIds(input.membersBasis ?? []);
    input.memberIds = input.memberIds.map((m) => m.toLowerCase());
    if (input.membersBasis) input.membersBasis = input.membersBasis.map((m) => m.toLowerCase());
    return toGroupDto(
      await mapDbErrors(() => updateScimGroup(db, caller.identity, requireId(id, "Group"), input)),
    );
  },

  async deleteGroup(db: TDb, caller: TCaller, id: string): Promise<void> {
    requireProvisioner(caller);
    await mapDbErrors(() => deleteScimGroup(db, caller.identity, requireId(id, "Group")));
  },
};

function requireMemberIds(ids: string[]): void {
  const bad = ids.filter((id) => !isUuid(id));
  if (bad.length > 0) throw new AppError("BAD_REQUEST", `No SCIM user with id ${bad.join(", ")}`);
}
