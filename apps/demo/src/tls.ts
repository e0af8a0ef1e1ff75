// The demo agent's TLS certificate: self-signed, made once under the data dir and reused, so tokens can
// travel encrypted (psql "...?sslmode=require") without any setup. Real deployments bring their own
// certificate through PORTCULLIS_TLS_CERT_FILE / PORTCULLIS_TLS_KEY_FILE.
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import { generate } from "selfsigned";

export interface TDemoCertificate {
  certFile: string;
  keyFile: string;
}

/** True when the certificate is still valid for a while and names the host clients will connect to. */
function usable(pem: string, host: string): boolean {
  try {
    const cert = new X509Certificate(pem);
    if (Date.parse(cert.validTo) < Date.now() + 24 * 3600 * 1000) return false;
    if (host === "0.0.0.0" || host === "::") return true;
    return isIP(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host) !== undefined;
  } catch {
    return false;
  }
}

export async function ensureDemoCertificate(dataDir: string, host: string): Promise<TDemoCertificate> {
  const dir = path.join(dataDir, "tls");
  const certFile = path.join(dir, "agent-cert.pem");
  const keyFile = path.join(dir, "agent-key.pem");
  if (existsSync(certFile) && existsSync(keyFile) && usable(await readFile(certFile, "utf8"), host)) {
    return { certFile, keyFile };
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const names = new Set(["localhost", "127.0.0.1", host]);
  const altNames = [...names]
    .filter((n) => n !== "0.0.0.0" && n !== "::")
    .map((n) => (isIP(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n }));
  const pems = await generate([{ name: "commonName", value: "Portcullis demo agent" }], {
    keySize: 2048,
    notAfterDate: new Date(Date.now() + 825 * 24 * 3600 * 1000),
    algorithm: "sha256",
    extensions: [{ name: "subjectAltName", altNames }],
  });
  // The key is a secret of this machine's owner, like demo-secrets.json.
  await writeFile(keyFile, pems.private, { mode: 0o600 });
  await chmod(keyFile, 0o600);
  await writeFile(certFile, pems.cert, { mode: 0o644 });
  return { certFile, keyFile };
}
