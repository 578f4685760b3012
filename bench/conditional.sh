#!/usr/bin/env bash
#
# bench/conditional.sh: rows/s of conditional generation next to the
# unconditional rate.  Prints figures, never pass/fail.
#
# A 200,000-row table (bench --rows N to change it) with a column `bucket`
# uniform over 0..99 and a category `kind`; one copula is trained on it, then
# 200,000 rows are generated (a) without a condition, (b) with a common
# condition (bucket < 50: half the rows), (c) with a rare one (bucket = 7:
# 1 %), (d) with a rare category (kind = 'rare': about 1 %), and (e) with a
# condition over two columns that only rejection can meet.
#
# Usage, from the repository root:
#   bench/conditional.sh            against a running server with synth installed
#                                   (PGHOST, PGPORT, PGUSER, PGDATABASE)
#   bench/conditional.sh --start    build, install and start a throwaway cluster
#                                   through scripts/lib.sh, stop it at the end
#   --rows N                        rows of the table (default 200,000)
#   --method M                      the model: copula (default), ctgan or tvae
#   --epochs N                      epochs of a neural model (default 10)
#   --generate N                    rows generated per figure (default: --rows)
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=200000
START=0
METHOD=copula
EPOCHS=10
GENERATE=""
while [ $# -gt 0 ]; do
	case "$1" in
		--start) START=1 ;;
		--rows) ROWS="$2"; shift ;;
		--method) METHOD="$2"; shift ;;
		--epochs) EPOCHS="$2"; shift ;;
		--generate) GENERATE="$2"; shift ;;
		*) echo "bench/conditional.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

if [ "$START" = 1 ]; then
	# shellcheck source=scripts/lib.sh
	. scripts/lib.sh
	trap synth_cluster_stop EXIT
	synth_install_packages
	synth_build_install
	synth_cluster_start
	export PGDATABASE=postgres
fi

case "$METHOD" in
	copula) OPTIONS='{"seed": 1}' ;;
	ctgan|tvae) OPTIONS="{\"seed\": 1, \"epochs\": $EPOCHS, \"progress_every\": 0}" ;;
	*) echo "bench/conditional.sh: --method is copula, ctgan or tvae" >&2; exit 2 ;;
esac

psql -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" -v gen="${GENERATE:-$ROWS}" -v method="$METHOD" \
	-v options="$OPTIONS" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS synth;
DROP SCHEMA IF EXISTS synth_bench_cond CASCADE;
CREATE SCHEMA synth_bench_cond;
CREATE TABLE synth_bench_cond.t AS
SELECT i AS id,
	   i % 100 AS bucket,
	   (i % 100) * 10 + abs(hashint4(i)) % 50 AS amount,
	   CASE WHEN i % 100 = 3 THEN 'rare' ELSE (ARRAY['a', 'b', 'c'])[1 + abs(hashint4(i * 7)) % 3] END AS kind,
	   hashint4(i * 13) % 2 = 0 AS flag
FROM generate_series(1, :rows) i;
SELECT clock_timestamp() AS t0 \gset
SELECT synth_train('synth_bench_cond.t', :'method', :'options') AS model \gset
SELECT round(extract(epoch FROM clock_timestamp() - :'t0')::numeric, 1) AS training_s \gset

CREATE TEMP TABLE figures (label text, seconds numeric, rows bigint);
CREATE FUNCTION pg_temp.timed(label text, sql text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp(); n bigint;
BEGIN
	EXECUTE sql INTO n;
	INSERT INTO figures VALUES (label, extract(epoch FROM clock_timestamp() - t0), n);
END $$;
SELECT pg_temp.timed('(a) unconditional',
	format('SELECT count(*) FROM synth_generate(NULL::synth_bench_cond.t, %s, 1)', :gen));
SELECT pg_temp.timed('(b) bucket < 50 (50 %)',
	format('SELECT count(*) FROM synth_generate(NULL::synth_bench_cond.t, %s, 1, condition => %L)', :gen, 'bucket < 50'));
SELECT pg_temp.timed('(c) bucket = 7 (1 %)',
	format('SELECT count(*) FROM synth_generate(NULL::synth_bench_cond.t, %s, 1, condition => %L)', :gen, 'bucket = 7'));
SELECT pg_temp.timed('(d) kind = ''rare'' (1 %)',
	format('SELECT count(*) FROM synth_generate(NULL::synth_bench_cond.t, %s, 1, condition => %L)', :gen, 'kind = ''rare'''));
SELECT pg_temp.timed('(e) amount - bucket * 10 < 5 (rejection, ~10 %)',
	format('SELECT count(*) FROM synth_generate(NULL::synth_bench_cond.t, %s, 1, condition => %L)', :gen, 'amount - bucket * 10 < 5'));
\echo
\echo synth conditional generation bench: method :method, :rows rows, trained in :training_s s
SELECT label AS "condition", rows, round(seconds, 3) AS seconds,
	   round(rows / nullif(seconds, 0)) AS rows_per_s,
	   round((rows / nullif(seconds, 0)) /
			 (SELECT rows / nullif(seconds, 0) FROM figures WHERE label LIKE '(a)%'), 2) AS vs_unconditional
FROM figures ORDER BY label;
DROP SCHEMA synth_bench_cond CASCADE;
SQL
