import { createHash } from "node:crypto";
import type { Sql } from "../db";
import type { Logger } from "../log";

// A refresh run holds a session advisory lock for as long as it is alive, so
// that the claims of a run that crashed or was killed can be told apart from
// a live run's: their run holds no such lock any more. This needs a session
// of its own (a reserved connection): the refresh job connects directly,
// never through the transaction pooler.

/**
 * The advisory-lock namespace (first key of the two-key form) a run holds
 * for as long as it is alive, the second key derived from its run id: a
 * claim whose run holds no such lock belongs to a dead run. The migration
 * runner's lock uses the one-key form, so the two never meet.
 */
export const RUN_LIVENESS_LOCK_NAMESPACE = 0x5e_c0_0f_7e;

/** The second key of a run's liveness lock: 32 bits of its run id's sha256. */
export function runLivenessKey(runId: string): number {
  return createHash("sha256").update(runId).digest().readInt32BE(0);
}

/**
 * Runs `work` while holding the run's liveness lock on a reserved
 * connection: while that session lives, the run's claims are a live run's.
 */
export async function whileRunIsLive<T>(
  sql: Sql,
  runId: string,
  logger: Logger,
  work: () => Promise<T>,
): Promise<T> {
  const liveness = await sql.reserve();
  const livenessKey = runLivenessKey(runId);
  try {
    await liveness`SELECT pg_advisory_lock(${RUN_LIVENESS_LOCK_NAMESPACE}, ${livenessKey})`;
    return await work();
  } finally {
    await liveness`SELECT pg_advisory_unlock(${RUN_LIVENESS_LOCK_NAMESPACE}, ${livenessKey})`.catch(
      (unlockError: unknown) => {
        // Harmless: the session's locks go when the connection closes.
        logger.warn(
          { event: "refresh_liveness_unlock_failed", run_id: runId, err: unlockError },
          "could not release the run's liveness lock; it goes with its connection",
        );
      },
    );
    liveness.release();
  }
}

/** Of `runIds`, in their order, those whose run holds no liveness lock: gone. */
export async function deadRunIds(sql: Sql, runIds: string[]): Promise<string[]> {
  const unsignedKey = (id: string) => String(runLivenessKey(id) >>> 0);
  const live = await sql<{ key: string }[]>`
    SELECT objid::text AS key FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 2
      AND classid::text = ${String(RUN_LIVENESS_LOCK_NAMESPACE)}
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND objid::text = ANY(${runIds.map(unsignedKey)}::text[])
  `;
  const liveKeys = new Set(live.map((r) => r.key));
  return runIds.filter((id) => !liveKeys.has(unsignedKey(id)));
}
