import { type ErrorKind, ServiceError } from "../errors";

/** A database snapshot could not be taken, so the migration must not start. */
export class SnapshotError extends ServiceError {
  readonly kind: ErrorKind;

  constructor(
    code: "snapshot_rejected" | "snapshot_failed" | "snapshot_timeout",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.kind = code === "snapshot_timeout" ? "unavailable" : "internal";
  }
}
