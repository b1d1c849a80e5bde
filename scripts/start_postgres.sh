#!/usr/bin/env bash
# A real PostgreSQL for the results-store tests: Debian's package, started on 127.0.0.1:5432,
# with a `kgft` role and a `kgft_test` database. Idempotent; needs root (CI and dev machines are).
set -euo pipefail
if ! command -v pg_lsclusters >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2}')
if [ -z "$cluster" ]; then
  pg_createcluster 15 main >/dev/null
  cluster="15 main"
fi
# shellcheck disable=SC2086
pg_ctlcluster $cluster start 2>/dev/null || true
for _ in $(seq 1 30); do
  su postgres -c "psql -qtAc 'select 1'" >/dev/null 2>&1 && break
  sleep 1
done
su postgres -c "psql -qtAc \"select 1 from pg_roles where rolname='kgft'\"" | grep -q 1 \
  || su postgres -c "psql -qc \"create role kgft login password 'kgft'\""
su postgres -c "psql -qtAc \"select 1 from pg_database where datname='kgft_test'\"" | grep -q 1 \
  || su postgres -c "psql -qc 'create database kgft_test owner kgft'"
echo "postgresql ready: postgresql+psycopg://kgft:kgft@127.0.0.1:5432/kgft_test"
