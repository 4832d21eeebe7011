#!/usr/bin/env bash
# The whole test suite (npm test): vitest over tests/, next to the servers it needs.
exec bash "$(dirname "$0")/with-services.sh" npx vitest run "$@"
