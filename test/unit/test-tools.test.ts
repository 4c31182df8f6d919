import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it, vi } from "vitest";
import { toolOnPath } from "../support/tools";

// The guard that keeps CI from skipping tests silently when psql, jq or pg_dump is missing.
const empty = mkdtempSync(join(tmpdir(), "no-tools-"));
afterEach(() => vi.unstubAllEnvs());

it("finds an installed tool by running it", () => {
  expect(toolOnPath("node")).toMatch(/\/node$/);
});

it("lets a test skip when a tool is missing outside CI", () => {
  vi.stubEnv("PATH", empty);
  vi.stubEnv("CI", "");
  expect(toolOnPath("jq")).toBeUndefined();
});

it("fails the run under CI=true when a tool is missing", () => {
  vi.stubEnv("PATH", empty);
  vi.stubEnv("CI", "true");
  expect(() => toolOnPath("jq")).toThrow(/^jq is not installed; under CI=true this fails/);
  rmSync(empty, { recursive: true, force: true });
});
