import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { NODE_RUNTIME, NODE_TARGET } from "../../infra/runtime";

const text = (path: string) => readFile(path, "utf8");
const json = async (path: string) => JSON.parse(await text(path));

describe("which Node runs where (docs/development.md#node-versions)", () => {
  it(".nvmrc, the Lambda runtime and the bundle target name one major", async () => {
    const major = (await text(".nvmrc")).trim();
    expect(major).toMatch(/^\d+$/);
    expect(NODE_RUNTIME).toBe(`nodejs${major}.x`);
    expect(NODE_TARGET).toBe(`node${major}`);
    expect(await text(".github/workflows/deploy.yml")).toContain("node-version-file: .nvmrc");
  });

  it("the engines floor, @types/node and CI name the same one major as .nvmrc", async () => {
    const major = (await text(".nvmrc")).trim();
    const pkg = await json("package.json");
    expect(pkg.engines.node).toMatch(new RegExp(`^>=${major}\\.\\d+$`));
    expect(pkg.devDependencies["@types/node"]).toMatch(new RegExp(`^${major}\\.`));
    const ci = await text(".github/workflows/ci.yml");
    expect(ci).toContain("node-version-file: .nvmrc");
    expect(ci).not.toMatch(/node-version:/);
  });

  it(".ci/run brings the Node major of .nvmrc when it finds an older one", async () => {
    expect(await text(".ci/run")).toContain("source .ci/node.sh");
    const bootstrap = await text(".ci/node.sh");
    expect(bootstrap).toContain("< .nvmrc");
    expect(bootstrap).toMatch(/"node@\$NODE_BOOTSTRAP_VERSION"/);
  });
});

describe("CI and dependencies", () => {
  it("a workflow runs .ci/run on pull requests and pushes, with a Postgres 15 service", async () => {
    const ci = await text(".github/workflows/ci.yml");
    expect(ci).toMatch(/^on:\n {2}pull_request:\n {2}push:\n/m);
    expect(ci).toMatch(/services:\n\s+postgres:\n\s+image: postgres:15\n/);
    expect(ci).toContain("run: .ci/run");
  });

  it("Renovate groups every AWS SDK client the package uses", async () => {
    const pkg = await json("package.json");
    const renovate = await json("renovate.json");
    const group = renovate.packageRules.find(
      (rule: { groupName?: string }) => rule.groupName === "AWS SDK",
    );
    const patterns: string[] = group.matchPackageNames;
    const matches = (name: string) =>
      patterns.some((pattern) =>
        pattern.endsWith("/**") ? name.startsWith(pattern.slice(0, -2)) : name === pattern,
      );
    const sdk = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((name) =>
      name.startsWith("@aws-sdk/"),
    );
    expect(sdk.length).toBeGreaterThanOrEqual(3);
    for (const name of sdk) expect(matches(name), name).toBe(true);
  });

  it("every dependency is pinned to an exact version, and the package says its license", async () => {
    const pkg = await json("package.json");
    for (const [name, version] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
      // file: packages are ours (tools/), pinned by their own package.json.
      expect(version, name).toMatch(/^(\d+\.\d+\.\d+(-[\w.]+)?|file:tools\/[\w-]+)$/);
    }
    expect(pkg.license).toBe("UNLICENSED");
  });
});
