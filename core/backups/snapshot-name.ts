/** The stage as RDS accepts it in an identifier: lowercase letters, digits, single hyphens. */
function identifierStage(stage: string): string {
  // At most 200 characters, so the whole identifier stays under RDS's 255.
  const cleaned = stage
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, 200)
    .replace(/^-+|-+$/g, "");
  return cleaned || "stage";
}

/** What every pre-migration snapshot of a stage starts with; IAM grants are scoped to it. */
export function preMigrationSnapshotPrefix(stage: string): string {
  return `pre-migrate-${identifierStage(stage)}-`;
}

/**
 * A snapshot identifier RDS accepts (letters, digits, single hyphens, starts
 * with a letter, at most 255 characters) that sorts by time:
 * `pre-migrate-<stage>-<yyyymmddhhmmss>`. Free of SDK imports so infra/ can use it.
 */
export function preMigrationSnapshotId(stage: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/\.\d+Z$/, "")
    .replace(/[^0-9]/g, "");
  return `${preMigrationSnapshotPrefix(stage)}${stamp}`;
}
