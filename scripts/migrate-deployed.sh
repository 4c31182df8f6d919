#!/usr/bin/env bash
# Step 3 of every deploy: invoke the stage's migrate function with
# {"action":"up"} and fail unless its report says ok. The function snapshots
# RDS first. Reads the function name from .sst/outputs.json, which
# `sst deploy` writes; MIGRATE_FUNCTION_NAME overrides it.
# Usage: scripts/migrate-deployed.sh [payload-json]   (default {"action":"up"})
# Needs: aws CLI v2 and jq, credentials allowed lambda:InvokeFunction.
set -euo pipefail
cd "$(dirname "$0")/.."

payload="${1:-{\"action\":\"up\"\}}"
fn="${MIGRATE_FUNCTION_NAME:-}"
if [[ -z "$fn" ]]; then
  [[ -f .sst/outputs.json ]] || { echo "migrate: no .sst/outputs.json; run sst deploy first or set MIGRATE_FUNCTION_NAME" >&2; exit 1; }
  fn="$(jq -r '.migrateFunctionName // empty' .sst/outputs.json)"
  [[ -n "$fn" ]] || { echo "migrate: .sst/outputs.json has no migrateFunctionName" >&2; exit 1; }
fi

report="$(mktemp)"
meta="$(mktemp)"
trap 'rm -f "$report" "$meta"' EXIT

echo "migrate: invoking $fn with $payload"
# One attempt only, and a read timeout above the function's 15-minute limit:
# the CLI's defaults (60 s, with retries) would re-send a long migration.
AWS_MAX_ATTEMPTS=1 aws lambda invoke \
  --function-name "$fn" \
  --cli-binary-format raw-in-base64-out \
  --cli-read-timeout 960 \
  --payload "$payload" \
  "$report" >"$meta"

cat "$report"
echo
if jq -e 'has("FunctionError")' "$meta" >/dev/null; then
  echo "migrate: the function failed ($(jq -r .FunctionError "$meta")); see its logs" >&2
  exit 1
fi
if ! jq -e '.ok == true' "$report" >/dev/null; then
  echo "migrate: the report says the migration failed (ok is not true)" >&2
  exit 1
fi
echo "migrate: ok"
