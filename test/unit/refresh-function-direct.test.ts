import { afterEach, describe, expect, it, vi } from "vitest";

// functions/refresh-tokens.ts builds its dependencies when imported, so each
// case imports a fresh copy under its own environment.
describe("functions/refresh-tokens.ts behind a transaction pooler", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it("refuses DB_POOLER=transaction at start, before it connects, naming the setting", async () => {
    vi.stubEnv("KMS_KEY_ID", "arn:aws:kms:ap-northeast-2:123456789012:key/k-1");
    // Nothing listens on port 9: a connection attempt would fail differently.
    vi.stubEnv("DATABASE_URL", "postgres://runtime@127.0.0.1:9/none");
    vi.stubEnv("DB_POOLER", "transaction");
    await expect(import("../../functions/refresh-tokens")).rejects.toThrow(
      /^DB_POOLER must not be transaction for the refresh function/,
    );
  });
});
