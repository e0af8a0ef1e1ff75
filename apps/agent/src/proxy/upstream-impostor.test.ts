// The agent holds a database password; a server that is not the database (a spoofed address, a hijacked
// DNS name) must not get it, nor pass for the database. These servers speak just enough of the protocol
// to try: SCRAM with a forged final signature, a nonce that ignores ours, a malformed challenge. A real
// Postgres accepting SCRAM is covered by upstream-auth.integration.test.ts.
import { randomBytes } from "node:crypto";
import net from "node:net";
import { networkInterfaces } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { connectUpstream, UpstreamError, type TUpstreamTarget } from "./upstream.ts";
import { FrameReader } from "./wire.ts";

function authMessage(code: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(9 + payload.length);
  out[0] = 0x52; // R
  out.writeInt32BE(8 + payload.length, 1);
  out.writeInt32BE(code, 5);
  payload.copy(out, 9);
  return out;
}

const saslMechanisms = () => authMessage(10, Buffer.from("SCRAM-SHA-256\0\0"));

/** The client's first SCRAM message ("n,,n=,r=<nonce>") from its SASLInitialResponse. */
function clientNonceOf(message: Buffer): string {
  const text = message.toString("latin1");
  return /r=([^,\0]+)/.exec(text)?.[1] ?? "";
}

type TScript = (socket: net.Socket, received: Buffer[]) => void;

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A fake server: after the startup packet, `script` is called with every complete message received. */
async function impostor(script: TScript, host = "127.0.0.1"): Promise<{ port: number; received: Buffer[] }> {
  const received: Buffer[] = [];
  const server = net.createServer((socket) => {
    let startup = true;
    let pending = Buffer.alloc(0);
    const frames = new FrameReader(1024 * 1024);
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      if (startup) {
        pending = Buffer.concat([pending, chunk]);
        if (pending.length < 4 || pending.length < pending.readInt32BE(0)) return;
        const rest = pending.subarray(pending.readInt32BE(0));
        startup = false;
        script(socket, received);
        if (rest.length === 0) return;
        chunk = rest;
      }
      for (const frame of frames.push(chunk)) {
        received.push(frame.raw);
        script(socket, received);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, host, r));
  return { port: (server.address() as net.AddressInfo).port, received };
}

const target = (port: number): TUpstreamTarget => ({
  host: "127.0.0.1",
  port,
  database: "app",
  username: "app",
  password: "the-real-password",
  tlsMode: "disable",
});

describe("upstream authentication against an impostor", () => {
  it("refuses a server whose final SCRAM signature is forged", async () => {
    const server = await impostor((socket, received) => {
      if (received.length === 0) return void socket.write(saslMechanisms());
      if (received.length === 1) {
        const nonce = `${clientNonceOf(received[0]!)}${randomBytes(12).toString("base64")}`;
        const salt = randomBytes(16).toString("base64");
        return void socket.write(authMessage(11, Buffer.from(`r=${nonce},s=${salt},i=4096`)));
      }
      // It cannot compute the real ServerSignature without the password: it sends some bytes instead.
      socket.write(authMessage(12, Buffer.from(`v=${randomBytes(32).toString("base64")}`)));
      socket.write(authMessage(0));
      socket.write(Buffer.from([0x5a, 0, 0, 0, 5, 0x49])); // ReadyForQuery
    });
    const attempt = connectUpstream(target(server.port), {}, 5_000);
    await expect(attempt).rejects.toThrow(UpstreamError);
    await expect(attempt).rejects.toThrow(/SCRAM signature is invalid/);
    // What it did receive is a proof, from which the password cannot be recovered; never the password.
    expect(Buffer.concat(server.received).toString("latin1")).not.toContain("the-real-password");
  });

  it("refuses a challenge whose nonce does not extend the agent's (a replayed exchange)", async () => {
    const server = await impostor((socket, received) => {
      if (received.length === 0) return void socket.write(saslMechanisms());
      if (received.length === 1) {
        const foreign = randomBytes(24).toString("base64");
        return void socket.write(
          authMessage(11, Buffer.from(`r=${foreign},s=${randomBytes(16).toString("base64")},i=4096`)),
        );
      }
    });
    await expect(connectUpstream(target(server.port), {}, 5_000)).rejects.toThrow(/invalid SCRAM challenge/);
    // The agent stopped before sending a proof.
    expect(server.received).toHaveLength(1);
  });

  it.each([
    ["no iteration count", (nonce: string) => `r=${nonce},s=c2FsdA==`],
    ["zero iterations", (nonce: string) => `r=${nonce},s=c2FsdA==,i=0`],
    ["no salt", (nonce: string) => `r=${nonce},i=4096`],
  ])("refuses a malformed challenge (%s)", async (_what, challenge) => {
    const server = await impostor((socket, received) => {
      if (received.length === 0) return void socket.write(saslMechanisms());
      if (received.length === 1)
        socket.write(authMessage(11, Buffer.from(challenge(`${clientNonceOf(received[0]!)}xyz`))));
    });
    await expect(connectUpstream(target(server.port), {}, 5_000)).rejects.toThrow(/invalid SCRAM challenge/);
  });

  it("refuses SASL that offers no mechanism it supports", async () => {
    const server = await impostor((socket, received) => {
      if (received.length === 0) socket.write(authMessage(10, Buffer.from("SCRAM-SHA-1\0\0")));
    });
    await expect(connectUpstream(target(server.port), {}, 5_000)).rejects.toThrow(
      /unsupported SASL mechanisms: SCRAM-SHA-1/,
    );
    expect(server.received).toHaveLength(0);
  });

  it("fails with a clear error, not a hang, when the server goes silent mid-exchange", async () => {
    const server = await impostor((socket, received) => {
      if (received.length === 0) socket.write(saslMechanisms());
    });
    await expect(connectUpstream(target(server.port), {}, 500)).rejects.toThrow(UpstreamError);
  });
});

/** An address of this machine that is not loopback, where a fake server stands for a remote one. */
const externalAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === "IPv4" && !a.internal)?.address;

describe("the password in clear text", () => {
  it.skipIf(!externalAddress)(
    "is not sent to a server that asks for it over the network without TLS",
    async () => {
      const server = await impostor((socket, received) => {
        if (received.length === 0) socket.write(authMessage(3)); // AuthenticationCleartextPassword
      }, externalAddress);
      const attempt = connectUpstream({ ...target(server.port), host: externalAddress! }, {}, 5_000);
      await expect(attempt).rejects.toThrow(/clear text over an unencrypted connection/);
      expect(server.received).toHaveLength(0);
    },
  );

  it("is sent to a server on this host (a local database with password authentication)", async () => {
    const server = await impostor((socket, received) => {
      if (received.length === 0) return void socket.write(authMessage(3));
      socket.write(authMessage(0));
      socket.write(Buffer.from([0x5a, 0, 0, 0, 5, 0x49]));
    });
    const connection = await connectUpstream(target(server.port), {}, 5_000);
    connection.socket.destroy();
    expect(server.received[0]!.toString("latin1")).toContain("the-real-password");
  });
});
