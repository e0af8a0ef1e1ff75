// The agent gateway lives in the custom server (apps/web/server.ts); Next.js bundles route handlers
// separately, so a module-level variable would exist twice. The running gateway is published on globalThis.
import type { TProbeResult, TUpstreamTargetSpec } from "@portcullis/agent-protocol";

export interface TAgentGatewayHandle {
  probe(
    agentId: string,
    upstream: TUpstreamTargetSpec,
    options?: { scan?: boolean; timeoutMs?: number },
  ): Promise<TProbeResult>;
  agentAddress(agentId: string): string | null;
  sendApprovalDecision(
    agentId: string,
    decision: { approvalId: string; approved: boolean; decidedBy: string | null; reason: string },
  ): Promise<boolean>;
}

const REGISTRY_KEY = "__portcullisAgentGateway";

export function registerAgentGateway(gateway: TAgentGatewayHandle | null): void {
  (globalThis as Record<string, unknown>)[REGISTRY_KEY] = gateway;
}

export function agentGateway(): TAgentGatewayHandle | null {
  return ((globalThis as Record<string, unknown>)[REGISTRY_KEY] as TAgentGatewayHandle | undefined) ?? null;
}
