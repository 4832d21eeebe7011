#!/usr/bin/env bash
# npm run test:s2-real: the S2 conformance suite (tests/helpers/s2-conformance.ts) against real S2
# servers, each only when its variable is set; says which did not run and why. Not part of
# npm test, which runs the same suite against the test double (tests/s2-conformance.test.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
ran=0
if [ -n "${S2_LITE_URL:-}" ]; then echo "s2-real: s2-lite at $S2_LITE_URL"; ran=1; else echo "s2-real: s2-lite not run: S2_LITE_URL is not set (an s2-lite on this machine, e.g. http://127.0.0.1:8080)"; fi
if [ -n "${S2_CLOUD_TOKEN:-}" ]; then echo "s2-real: S2 cloud"; ran=1; else echo "s2-real: S2 cloud not run: S2_CLOUD_TOKEN is not set (an account token that may create and delete basins)"; fi
if [ "$ran" = 0 ]; then exit 0; fi
exec bash scripts/with-services.sh npx vitest run --config vitest.s2-real.config.ts "$@"
