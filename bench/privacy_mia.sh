#!/usr/bin/env bash
#
# bench/privacy_mia.sh: an empirical check that mst's guarantee is not
# violated badly: a membership-inference attack on a planted outlier.
# Prints figures, never pass/fail.
#
# Two tables of the same 2,000 ordinary rows, one of them with one more row:
# an outlier whose city ('Ys') no ordinary row has, aged 99 with the top
# income.  Each is trained many times with mst at the same epsilon (fresh
# noise each time) and 20,000 rows are generated from each model.  The
# attacker's statistic is how many generated rows look like the outlier
# (city 'Ys'); its best threshold in hindsight gives the largest true-positive
# minus false-positive rate that any threshold reaches over the runs.  An
# (epsilon, delta)-DP training allows at most
# (e^epsilon - 1 + 2 delta) / (e^epsilon + 1) for that advantage
# (Kairouz, Oh, Viswanath 2015); a measured advantage far above it would mean
# a broken guarantee.  With n runs per side the measurement itself is noisy
# by about 1 / sqrt(n).
#
# Usage, from the repository root:
#
#   bench/privacy_mia.sh                against a running server (PGHOST, PGPORT,
#                                       PGUSER, PGDATABASE)
#   bench/privacy_mia.sh --start        build, install, start a throwaway cluster
#   bench/privacy_mia.sh --eps E        epsilon of each training (default 1)
#   bench/privacy_mia.sh --runs N       trainings per side (default 100)
#
# The bench works in schema synth_bench_mia, which it drops at the end.
#
set -euo pipefail

cd "$(dirname "$0")/.."

EPS=1
RUNS=100
START=0
while [ $# -gt 0 ]; do
	case "$1" in
		--start) START=1 ;;
		--eps) EPS="$2"; shift ;;
		--runs) RUNS="$2"; shift ;;
		-h|--help) sed -n '2,29p' "$0"; exit 0 ;;
		*) echo "bench/privacy_mia.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
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

PSQL=(psql -X -q -At -v ON_ERROR_STOP=1)

query() {
	"${PSQL[@]}" <<-EOF
	SET client_min_messages = warning;
	SET search_path = synth_bench_mia, public;
	$1
	EOF
}

query "CREATE EXTENSION IF NOT EXISTS synth;
DROP SCHEMA IF EXISTS synth_bench_mia CASCADE;
CREATE SCHEMA synth_bench_mia;" >/dev/null
trap 'query "DROP SCHEMA IF EXISTS synth_bench_mia CASCADE;" >/dev/null || true' EXIT

query "
CREATE TABLE mia_out (
	age		int NOT NULL CHECK (age BETWEEN 18 AND 99),
	city	text NOT NULL,
	income	numeric(10, 2) NOT NULL CHECK (income BETWEEN 0 AND 100000),
	member	bool NOT NULL);
SELECT setseed(0.5);
INSERT INTO mia_out
SELECT 18 + (random() * 50)::int,
	   (ARRAY['Lyon', 'Paris', 'Nice', 'Brest'])[1 + floor(random() * 4)::int],
	   round((20000 + random() * 40000)::numeric, 2),
	   random() < 0.3
FROM generate_series(1, 2000);
CREATE TABLE mia_in AS SELECT * FROM mia_out;
ALTER TABLE mia_in ADD CHECK (age BETWEEN 18 AND 99), ADD CHECK (income BETWEEN 0 AND 100000);
INSERT INTO mia_in VALUES (99, 'Ys', 100000, true);
SELECT synth_set_budget('mia_out', 1e9, 0.5);
SELECT synth_set_budget('mia_in', 1e9, 0.5);
CREATE TABLE mia_stat (side text, run int, stat int);" >/dev/null

OPTS="{\"epsilon\": $EPS, \"delta\": 1e-6, \"domains\": {\"city\": [\"Lyon\", \"Paris\", \"Nice\", \"Brest\", \"Ys\"]}}"
for side in out in; do
	for run in $(seq 1 "$RUNS"); do
		query "
SELECT synth_train('mia_$side', 'mst', '$OPTS') AS id \\gset
INSERT INTO mia_stat
SELECT '$side', $run, count(*) FILTER (WHERE city = 'Ys')
FROM synth_generate(:id, NULL::mia_$side, 20000, seed => $run);" >/dev/null
	done
done

query "
WITH thresholds AS (SELECT DISTINCT stat AS t FROM mia_stat UNION SELECT max(stat) + 1 FROM mia_stat),
rates AS (
	SELECT t,
		   avg((stat >= t)::int) FILTER (WHERE side = 'in') AS tpr,
		   avg((stat >= t)::int) FILTER (WHERE side = 'out') AS fpr
	FROM thresholds, mia_stat GROUP BY t)
SELECT format('mst, epsilon %s, delta 1e-6, %s trainings per side, 20,000 rows generated each', $EPS, $RUNS)
UNION ALL
SELECT format('rows like the outlier per model: with it %s on average (max %s), without it %s (max %s)',
	round((SELECT avg(stat) FROM mia_stat WHERE side = 'in'), 2), (SELECT max(stat) FROM mia_stat WHERE side = 'in'),
	round((SELECT avg(stat) FROM mia_stat WHERE side = 'out'), 2), (SELECT max(stat) FROM mia_stat WHERE side = 'out'))
UNION ALL
SELECT format('best attack advantage (TPR - FPR, threshold in hindsight): %s', round(max(tpr - fpr), 3)) FROM rates
UNION ALL
SELECT format('bound for (%s, 1e-6)-DP: %s', $EPS, round(((exp($EPS) - 1 + 2e-6) / (exp($EPS) + 1))::numeric, 3));"
