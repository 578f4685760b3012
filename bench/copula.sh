#!/usr/bin/env bash
#
# bench/copula.sh: timing figures for the copula method and synth_evaluate.
# Prints figures, never pass/fail.
#
#   (a) copula training on Adult (80% of its rows; skipped when
#       ../shared/datasets/adult/adult.csv, from the repository root, is absent)
#   (b) copula training on a 1,000,000-row table the bench builds with SQL
#       (int, bigint, numeric(12,2), float8, text category, bool, date, timestamptz)
#   (c) synth_generate rows/s for 1,000,000 rows of that table, next to the
#       in-database ceiling: the same column types computed by plain SQL
#       expressions over generate_series; the ratio's goal is >= 0.5
#   (d) synth_evaluate on the Adult pair (holdout against as many synthetic rows)
#   (e) synth_evaluate on the generated table against as many synthetic rows
#
# Usage, from the repository root:
#
#   bench/copula.sh                 against a running server with synth installed,
#                                   reached through PGHOST, PGPORT, PGUSER,
#                                   PGDATABASE (scripts/demo.sh leaves one running)
#   bench/copula.sh --start         build and install synth, start a throwaway
#                                   cluster through scripts/lib.sh, stop it at the end
#   bench/copula.sh --rows N        size of the generated table (default 1000000)
#
# Times are measured inside the server (clock_timestamp() around the statement),
# so connection start-up is not counted.  The bench works in schema synth_bench,
# which it drops at the end.
#
set -euo pipefail

cd "$(dirname "$0")/.."

ROWS=1000000
START=0
while [ $# -gt 0 ]; do
	case "$1" in
		--start) START=1 ;;
		--rows) ROWS="$2"; shift ;;
		-h|--help) sed -n '2,28p' "$0"; exit 0 ;;
		*) echo "bench/copula.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done

ADULT_CSV=../shared/datasets/adult/adult.csv

if [ "$START" = 1 ]; then
	# scripts/lib.sh builds and installs synth, starts a throwaway cluster
	# and exports PGHOST, PGPORT and PGUSER for it
	# shellcheck source=scripts/lib.sh
	. scripts/lib.sh
	trap synth_cluster_stop EXIT
	synth_install_packages
	synth_build_install
	synth_cluster_start
	export PGDATABASE=postgres
fi

PSQL=(psql -X -q -At -v ON_ERROR_STOP=1)

# Run SQL quietly (NOTICEs off, results discarded).
run_sql() {
	"${PSQL[@]}" >/dev/null <<-EOF
	SET client_min_messages = warning;
	$1
	EOF
}

# Print one value a query returns.
query() {
	"${PSQL[@]}" <<-EOF
	SET client_min_messages = warning;
	$1
	EOF
}

# Seconds the server spent on one statement (its result is discarded).
time_sql() {
	"${PSQL[@]}" <<-EOF
	SET client_min_messages = warning;
	SELECT clock_timestamp() AS bench_t0 \gset
	\o /dev/null
	$1
	\o
	SELECT round(extract(epoch FROM clock_timestamp() - :'bench_t0')::numeric, 3);
	EOF
}

declare -a LABELS=() VALUES=()
figure() {
	LABELS+=("$1")
	VALUES+=("$2")
	printf '  %-58s %s\n' "$1" "$2" >&2
}

# rows/s of n rows in s seconds, as an integer
rate() {
	awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%d", n / s; else print "inf" }'
}

# The columns of the generated table, as SQL expressions over i.  hashint4()
# gives repeatable pseudo-random values; the columns depend on each other so
# that the copula has correlations to learn.
COLUMNS_SQL="
	(18 + abs(hashint4(i)) % 60)::int AS age,
	(abs(hashint4(i + 7)) % 1000000)::bigint * 1000 + i AS account,
	round((abs(hashint4(i)) % 60 * 20 + abs(hashint4(i * 3)) % 50000 / 100.0)::numeric, 2)::numeric(12,2) AS amount,
	(abs(hashint4(i)) % 60)::float8 * 0.5 + (hashint4(i * 5) % 1000) / 100.0 AS score,
	CASE WHEN i % 50 = 0 THEN NULL
		 ELSE (ARRAY['north', 'south', 'east', 'west', 'centre', 'islands'])[1 + abs(hashint4(i * 11)) % 6 / (1 + abs(hashint4(i)) % 2)]
	END AS region,
	hashint4(i * 13) % 3 = 0 AS active,
	date '2020-01-01' + abs(hashint4(i * 17)) % 1500 AS signup_date,
	timestamptz '2020-01-01 00:00:00+00' + (abs(hashint4(i * 17)) % 1500) * interval '1 day'
		+ (abs(hashint4(i * 19)) % 86400) * interval '1 second' AS last_seen"

# The ceiling: the same column types from the cheapest expressions over i,
# the least work any generator must do to hand PostgreSQL such rows.
CEILING_SQL="
	i AS age,
	i::bigint AS account,
	(i / 100.0)::numeric(12,2) AS amount,
	i * 0.5::float8 AS score,
	(ARRAY['north', 'south', 'east', 'west', 'centre', 'islands'])[1 + i % 6] AS region,
	i % 3 = 0 AS active,
	date '2020-01-01' + i % 1500 AS signup_date,
	timestamptz '2020-01-01 00:00:00+00' + i * interval '1 second' AS last_seen"

run_sql "CREATE EXTENSION IF NOT EXISTS synth;
		 DROP SCHEMA IF EXISTS synth_bench CASCADE;
		 CREATE SCHEMA synth_bench;"

echo "synth copula bench: $(query "SELECT split_part(version(), ',', 1) || '; backend ' || synth_backend() || '; synth.train_memory ' || current_setting('synth.train_memory')")" >&2
trap 'run_sql "DROP SCHEMA IF EXISTS synth_bench CASCADE" || true; [ "$START" = 1 ] && synth_cluster_stop' EXIT

# ---- (a) Adult: copula training
HAVE_ADULT=0
if [ -f "$ADULT_CSV" ]; then
	HAVE_ADULT=1
	run_sql "CREATE TABLE synth_bench.adult_raw (
				rn bigint GENERATED ALWAYS AS IDENTITY,
				age int, workclass text, fnlwgt int, education text, education_num int,
				marital_status text, occupation text, relationship text, race text, sex text,
				capital_gain int, capital_loss int, hours_per_week int, native_country text,
				income text)"
	"${PSQL[@]}" -c "\\copy synth_bench.adult_raw (age, workclass, fnlwgt, education, education_num, marital_status, occupation, relationship, race, sex, capital_gain, capital_loss, hours_per_week, native_country, income) FROM '$ADULT_CSV' WITH (FORMAT csv, HEADER true)"
	ADULT_COLS="age, workclass, fnlwgt, education, education_num, marital_status, occupation,
				relationship, race, sex, capital_gain, capital_loss, hours_per_week,
				native_country, income"
	run_sql "CREATE TABLE synth_bench.adult_train AS
				SELECT $ADULT_COLS FROM synth_bench.adult_raw WHERE rn % 5 <> 0 ORDER BY rn;
			 CREATE TABLE synth_bench.adult_holdout AS
				SELECT $ADULT_COLS FROM synth_bench.adult_raw WHERE rn % 5 = 0 ORDER BY rn;
			 ANALYZE synth_bench.adult_train, synth_bench.adult_holdout;"
	ADULT_TRAIN_ROWS=$(query "SELECT count(*) FROM synth_bench.adult_train")
	ADULT_HOLDOUT_ROWS=$(query "SELECT count(*) FROM synth_bench.adult_holdout")
	S=$(time_sql "SELECT synth_train('synth_bench.adult_train', 'copula', '{\"seed\": 42}');")
	figure "(a) adult: copula training, $ADULT_TRAIN_ROWS rows x 15 columns" "$S s"
else
	figure "(a) adult: copula training" "skipped: $ADULT_CSV is absent"
fi

# ---- (b) generated table: copula training
run_sql "CREATE TABLE synth_bench.t AS SELECT $COLUMNS_SQL FROM generate_series(1, $ROWS) i;
		 ANALYZE synth_bench.t;"
S=$(time_sql "SELECT synth_train('synth_bench.t', 'copula', '{\"seed\": 42}');")
figure "(b) t: copula training, $ROWS rows x 8 columns" "$S s"

# ---- (c) generation against the in-database ceiling
GEN_S=$(time_sql "SELECT count(*) FROM synth_generate(NULL::synth_bench.t, $ROWS, seed => 7);")
# count(s.*) makes the server compute every column; count(*) would let the
# planner drop the unused expressions of the subquery
CEIL_S=$(time_sql "SELECT count(s.*) FROM (SELECT $CEILING_SQL FROM generate_series(1, $ROWS) i) s;")
GEN_RATE=$(rate "$ROWS" "$GEN_S")
CEIL_RATE=$(rate "$ROWS" "$CEIL_S")
figure "(c) t: synth_generate $ROWS rows" "$GEN_S s, $GEN_RATE rows/s"
figure "(c) t: SQL ceiling, same column types, $ROWS rows" "$CEIL_S s, $CEIL_RATE rows/s"
figure "(c) t: generate / ceiling (goal >= 0.5)" "$(awk -v g="$GEN_RATE" -v c="$CEIL_RATE" 'BEGIN { printf "%.2f", g / c }')"

# ---- (d) synth_evaluate on the Adult pair
if [ "$HAVE_ADULT" = 1 ]; then
	run_sql "CREATE TABLE synth_bench.adult_syn AS
				SELECT * FROM synth_generate(NULL::synth_bench.adult_train, $ADULT_HOLDOUT_ROWS, seed => 7)"
	S=$(time_sql "SELECT * FROM synth_evaluate('synth_bench.adult_holdout', 'synth_bench.adult_syn');")
	figure "(d) adult: synth_evaluate, $ADULT_HOLDOUT_ROWS holdout vs $ADULT_HOLDOUT_ROWS synthetic" "$S s"
	Q=$(query "SELECT round(score::numeric, 4) FROM synth_evaluate('synth_bench.adult_holdout', 'synth_bench.adult_syn') WHERE metric = 'quality_score'")
	figure "    adult: quality_score (for reference)" "$Q"
else
	figure "(d) adult: synth_evaluate" "skipped: $ADULT_CSV is absent"
fi

# ---- (e) synth_evaluate on the generated table against as many synthetic rows
run_sql "CREATE TABLE synth_bench.t_syn AS SELECT * FROM synth_generate(NULL::synth_bench.t, $ROWS, seed => 7)"
S=$(time_sql "SELECT * FROM synth_evaluate('synth_bench.t', 'synth_bench.t_syn');")
figure "(e) t: synth_evaluate, $ROWS vs $ROWS synthetic rows" "$S s"
Q=$(query "SELECT round(score::numeric, 4) FROM synth_evaluate('synth_bench.t', 'synth_bench.t_syn') WHERE metric = 'quality_score'")
figure "    t: quality_score (for reference)" "$Q"

echo >&2
printf '%-62s %s\n' "figure" "value"
printf '%-62s %s\n' "------" "-----"
for k in "${!LABELS[@]}"; do
	printf '%-62s %s\n' "${LABELS[$k]}" "${VALUES[$k]}"
done
