#!/usr/bin/env bash
# What the tests need beyond Python: Debian's Chromium (report and web page render tests), a running
# PostgreSQL (results-store tests) and docker-compose (validates docker-compose.yml; needs no engine).
# Best effort: tests that miss one skip with the reason.
set -uo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v pg_lsclusters >/dev/null 2>&1 || missing+=(postgresql)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || echo "warning: apt-get could not install ${missing[*]}; their tests will skip"
  else
    echo "warning: not root, so ${missing[*]} not installed; their tests will skip"
  fi
fi
if [ "$(id -u)" = 0 ]; then
  bash scripts/start_postgres.sh || echo "warning: PostgreSQL did not start; its tests will skip"
fi
