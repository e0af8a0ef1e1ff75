// PLACEHOLDER signature, replaced by the real gateway implementation.
import type { Server } from "node:http";
import type { TDb } from "@portcullis/db";
import type { Logger } from "pino";

export interface TAgentGatewayOptions {
  db: TDb;
  /** Key that decrypts upstream secrets before they are sent to the agent that needs them. */
  secretKey: Buffer;
  logger: Logger;
  /** How often the gateway checks the policy revision and pushes new snapshots (ms). */
  policyPollMs?: number;
}

export interface TAgentGateway {
  close(): Promise<void>;
  connectedAgents(): { agentId: string; agentName: string; connectedAt: Date }[];
}

export function attachAgentGateway(_server: Server, _options: TAgentGatewayOptions): TAgentGateway {
  throw new Error("not implemented yet");
}
