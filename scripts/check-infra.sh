#!/usr/bin/env bash
# Offline checks of the infrastructure code: `sst install` (needs only the npm
# registry) writes .sst/platform/config.d.ts, the SST and Pulumi types that
# sst.config.ts and infra/ are written against; then tsc checks them.
# Usage: scripts/check-infra.sh [stage]   (default stage: ci)
set -euo pipefail
cd "$(dirname "$0")/.."

export SST_SKIP_DEPENDENCY_CHECK=1 SST_NO_BUN=1 SST_TELEMETRY_DISABLED=1
export SST_STAGE="${1:-${SST_STAGE:-ci}}"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! npx --no-install sst install >"$log" 2>&1; then
  echo "check-infra: sst install failed:" >&2
  cat "$log" >&2
  exit 1
fi
test -f .sst/platform/config.d.ts || { echo "check-infra: sst install wrote no .sst/platform/config.d.ts" >&2; exit 1; }

npx --no-install tsc --noEmit -p tsconfig.infra.json
echo "check-infra: sst.config.ts and infra/ type-check against SST $(cat .sst/platform/version)"
