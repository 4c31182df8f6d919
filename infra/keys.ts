/**
 * The KMS master key that wraps the data keys (envelope encryption), with
 * yearly automatic rotation, and the Secrets Manager secret holding the API
 * clients' keys. Who may use them is decided in permissions.ts.
 */
import { settings } from "./stage";

const existing = settings.keys.existingKmsKeyArn;

const masterKey = existing
  ? undefined
  : new aws.kms.Key(
      "MasterKey",
      {
        description: `securities-support ${$app.stage}: wraps the data keys of broker configs and tokens`,
        keyUsage: "ENCRYPT_DECRYPT",
        customerMasterKeySpec: "SYMMETRIC_DEFAULT",
        enableKeyRotation: true,
        rotationPeriodInDays: 365,
        deletionWindowInDays: settings.keys.kmsDeletionWindowDays,
      },
      { protect: settings.production },
    );

if (masterKey) {
  new aws.kms.Alias("MasterKeyAlias", {
    name: `alias/${$app.name}-${$app.stage}`,
    targetKeyId: masterKey.keyId,
  });
}

/** The key the functions use: the one created here, or KMS_KEY_ARN. */
export const masterKeyArn = masterKey ? masterKey.arn : $output(existing ?? "");

/** Empty at first: the README's Deploy section says how to put the API keys in it. */
export const apiKeysSecret = new aws.secretsmanager.Secret("ApiKeys", {
  description: `securities-support ${$app.stage}: API client keys, re-read by the API without a redeploy`,
  recoveryWindowInDays: settings.production ? 30 : 0,
});
