#!/usr/bin/env bash
# npm run bench: the benchmarks in bench/, next to the servers they need.
exec bash "$(dirname "$0")/with-services.sh" npx tsx bench/run.ts "$@"
