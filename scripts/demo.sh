#!/usr/bin/env bash
# demo.sh: builds and installs synth, starts a throwaway cluster, creates the
# database synth_demo with a 20,000-row table demo.customers, trains a model
# on it, shows synthetic rows and their evaluation (scripts/demo.sql), and
# leaves the cluster running for you to explore.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SYNTH_ROOT"

keep_cluster=0
trap '[ "$keep_cluster" -eq 1 ] || synth_cluster_stop' EXIT

synth_install_packages
synth_build_install
synth_cluster_start

psql="$("$PG_CONFIG" --bindir)/psql"
"$psql" -X -q -v ON_ERROR_STOP=1 -d postgres -c 'CREATE DATABASE synth_demo'
"$psql" -X -v ON_ERROR_STOP=1 -d synth_demo -f scripts/demo.sql

stop_command=$(synth_cluster_stop_command)
printf '%s\n' "$stop_command" >"$SYNTH_PGDIR/stop.sh"
keep_cluster=1

cat <<EOF

The demo cluster is still running.
  Connect:  psql -h $PGHOST -p $PGPORT -U postgres synth_demo
  Stop it:  bash $SYNTH_PGDIR/stop.sh
EOF
