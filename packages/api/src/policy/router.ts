import { adminProcedure, createTRPCRouter, roleProcedure } from "../trpc.ts";
import { policyRulesService } from "./rules-service.ts";
import {
  ZConnectionList,
  ZConnectionRules,
  ZConnectionRulesInput,
  ZDeleteRuleInput,
  ZGuardrailDto,
  ZMaskingRuleDto,
  ZPolicyPreviewInput,
  ZSaveGuardrailInput,
  ZSaveMaskingRuleInput,
  ZAccessSimulation,
  ZAccessSimulationInput,
} from "./schemas.ts";
import { policyService } from "./service.ts";
import { accessSimulationService } from "./simulation-service.ts";

// Reading rules reveals what they match: for the people who write or review them. Only admins change them.
const policyReader = roleProcedure("admin", "approver", "auditor");

export const policyRouter = createTRPCRouter({
  preview: policyReader
    .input(ZPolicyPreviewInput)
    .query(({ ctx, input }) => policyService.preview(ctx.db, ctx.caller, input)),
  simulate: policyReader
    .input(ZAccessSimulationInput)
    .output(ZAccessSimulation)
    .query(({ ctx, input }) => accessSimulationService.simulate(ctx.db, ctx.caller, ctx.secretKey, input)),
  connections: policyReader
    .output(ZConnectionList)
    .query(({ ctx }) => policyRulesService.listConnections(ctx.db, ctx.caller)),
  rules: policyReader
    .input(ZConnectionRulesInput)
    .output(ZConnectionRules)
    .query(({ ctx, input }) => policyRulesService.connectionRules(ctx.db, ctx.caller, input)),
  saveGuardrail: adminProcedure
    .input(ZSaveGuardrailInput)
    .output(ZGuardrailDto)
    .mutation(({ ctx, input }) => policyRulesService.saveGuardrail(ctx.db, ctx.caller, input)),
  deleteGuardrail: adminProcedure
    .input(ZDeleteRuleInput)
    .mutation(({ ctx, input }) => policyRulesService.deleteGuardrail(ctx.db, ctx.caller, input)),
  saveMaskingRule: adminProcedure
    .input(ZSaveMaskingRuleInput)
    .output(ZMaskingRuleDto)
    .mutation(({ ctx, input }) => policyRulesService.saveMaskingRule(ctx.db, ctx.caller, input)),
  deleteMaskingRule: adminProcedure
    .input(ZDeleteRuleInput)
    .mutation(({ ctx, input }) => policyRulesService.deleteMaskingRule(ctx.db, ctx.caller, input)),
});
