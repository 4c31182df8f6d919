/**
 * The KMS encryption context of every data key, in a file of its own (no SDK
 * import) so that infra/permissions.ts can require exactly this context in
 * the IAM policy.
 *
 * Coarse on purpose: one data key serves many rows, so the context names only
 * the service and the purpose. Row binding happens in the AES-GCM
 * authenticated data of each ciphertext instead.
 */
export const KMS_ENCRYPTION_CONTEXT = {
  service: "securities-support",
  purpose: "data-key",
} as const;
