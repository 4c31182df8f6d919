import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { OPERATIONS_MD, withSettingsTable } from "../../dev/settings-doc-cli";

describe("docs/operations.md's configuration table", () => {
  it("is the one generated from the settings' declarations (npm run settings-doc)", async () => {
    const current = await readFile(OPERATIONS_MD, "utf8");
    expect(current).toBe(withSettingsTable(current));
  });
});
