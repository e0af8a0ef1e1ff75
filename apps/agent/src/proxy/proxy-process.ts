// Entry point used by test-harness.ts's startProxyProcess(): the proxy with the real Governor and a static
// snapshot in a process of its own. Config comes as one JSON argument; prints "listening <port>".
import { initParser } from "@portcullis/policy";
import { pino } from "pino";
import { Governor } from "../governor.ts";
import { startProxyServer } from "./server.ts";
import { testSnapshot, type TProxyProcessConfig } from "./test-harness.ts";

const config = JSON.parse(process.argv[2] ?? "{}") as TProxyProcessConfig;
await initParser();
const governor = new Governor();
governor.update(testSnapshot(config.upstreams));
const server = await startProxyServer({
  host: "127.0.0.1",
  port: 0,
  logger: pino({ level: "warn" }, pino.destination(2)),
  handshakeTimeoutMs: config.handshakeTimeoutMs,
  idleTimeoutMs: config.idleTimeoutMs,
  hooks: {
    authenticate: (r) => governor.authenticate(r),
    decide: (s, sql) => governor.decide(s, sql),
    record: () => undefined,
  },
});
process.stdout.write(`listening ${server.port}\n`);
process.on("SIGTERM", () => {
  void server.close().then(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
});
