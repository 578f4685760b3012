#!/usr/bin/env bash
#
# bench/multitable.sh: timing figures for multi-table synthesis.  Prints
# figures, never pass/fail.
#
#   (a) synth_train_schema on a shop schema the bench builds with SQL
#       (customers, products, coupons, orders, order_items, payments,
#       shipments: one parent with many children, a child with two foreign
#       keys, a nullable foreign key, a composite key), a fifth of the target
#       size
#   (b) synth_materialize at scale 5: about --rows rows in all; seconds and
#       rows/s, and the most memory synth_materialize held (what later tables
#       need of each row goes to a temporary table, so it does not grow with
#       the rows), next to the same figures at scale 1
#       and a conditioned copy at scale 1 (older customers, their larger
#       paid orders)
#   (c) synth_evaluate_schema of the copy: cardinality_shape,
#       parent_child_trends, multi_table_score, and its seconds
#
# Usage, from the repository root:
#
#   bench/multitable.sh             against a running server with synth installed,
#                                   reached through PGHOST, PGPORT, PGUSER,
#                                   PGDATABASE
#   bench/multitable.sh --start     build and install synth, start a throwaway
#                                   cluster through scripts/lib.sh, stop it at the end
#   bench/multitable.sh --rows N    rows of the materialized copy (default 1000000)
#
# Times are measured inside the server (clock_timestamp() around the
# statement).  The bench works in schemas mt_bench*, which it drops at the end.
#
set -euo pipefail

cd "$(dirname "$0")/.."

ROWS=1000000
START=0
while [ $# -gt 0 ]; do
	case "$1" in
		--start) START=1 ;;
		--rows) ROWS="$2"; shift ;;
		-h|--help) sed -n '2,27p' "$0"; exit 0 ;;
		*) echo "bench/multitable.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
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
	SET synth.device = 'cpu';
	$1
	EOF
}

# Seconds the server spent on a statement, then the most MB synth_materialize
# held (its DEBUG1 message; 0 for other statements).
time_and_peak() {
	"${PSQL[@]}" 2>&1 <<-EOF | sed -n 's/.*rows, [0-9]* bytes of memory held at the end, \([0-9]*\) at most.*/held \1/p; /^[0-9.]*$/p' | awk '/^held/ {m = $2; next} {print} END {printf "%.1f\n", m / 1048576}'
	SET client_min_messages = debug1;
	SET synth.device = 'cpu';
	SELECT clock_timestamp() AS t0 \gset
	$1
	SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2);
	EOF
}

# The real schema: a fifth of the target, about 10 rows per customer in all.
CUSTOMERS=$(( ROWS / 5 / 10 ))
[ "$CUSTOMERS" -ge 100 ] || CUSTOMERS=100

query "CREATE EXTENSION IF NOT EXISTS synth;
DROP SCHEMA IF EXISTS mt_bench, mt_bench_1, mt_bench_5, mt_bench_c CASCADE;
DELETE FROM synth.model_sets WHERE source_schema = 'mt_bench';" >/dev/null

echo "bench/multitable.sh: building schema mt_bench ($CUSTOMERS customers)"
query "
CREATE SCHEMA mt_bench;
CREATE TYPE mt_bench.status AS ENUM ('new', 'paid', 'shipped');
CREATE TABLE mt_bench.customers (id serial PRIMARY KEY, age int NOT NULL CHECK (age >= 18),
	city text NOT NULL, segment text NOT NULL);
CREATE TABLE mt_bench.products (id serial PRIMARY KEY, price numeric(8, 2) NOT NULL CHECK (price > 0),
	category text NOT NULL);
CREATE TABLE mt_bench.coupons (code text PRIMARY KEY, discount int NOT NULL);
CREATE TABLE mt_bench.orders (id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES mt_bench.customers,
	coupon_code text REFERENCES mt_bench.coupons, placed date NOT NULL, status mt_bench.status NOT NULL,
	amount numeric(10, 2) NOT NULL CHECK (amount > 0));
CREATE TABLE mt_bench.order_items (order_id int NOT NULL REFERENCES mt_bench.orders, line_no int NOT NULL,
	product_id int NOT NULL REFERENCES mt_bench.products, qty int NOT NULL CHECK (qty > 0),
	PRIMARY KEY (order_id, line_no));
CREATE TABLE mt_bench.payments (id bigserial PRIMARY KEY, order_id int NOT NULL REFERENCES mt_bench.orders,
	method text NOT NULL, paid_at timestamptz NOT NULL);
CREATE TABLE mt_bench.shipments (id serial PRIMARY KEY, order_id int NOT NULL, line_no int NOT NULL,
	carrier text NOT NULL, FOREIGN KEY (order_id, line_no) REFERENCES mt_bench.order_items);
SELECT setseed(0.5);
INSERT INTO mt_bench.customers (age, city, segment)
SELECT 18 + floor(random() * 60)::int, (ARRAY['Paris', 'Lyon', 'Nice', 'Lille', 'Nantes'])[1 + floor(random() * 5)::int],
	   (ARRAY['retail', 'pro'])[1 + floor(random() * 2)::int]
FROM generate_series(1, $CUSTOMERS);
INSERT INTO mt_bench.products (price, category)
SELECT round((5 + random() * 100)::numeric, 2), (ARRAY['book', 'toy', 'food', 'tool'])[1 + floor(random() * 4)::int]
FROM generate_series(1, greatest($CUSTOMERS / 10, 20));
INSERT INTO mt_bench.coupons SELECT 'CPN' || g, 5 * (1 + g % 4) FROM generate_series(1, 50) g;
INSERT INTO mt_bench.orders (customer_id, coupon_code, placed, status, amount)
SELECT c.id, CASE WHEN random() < 0.3 THEN 'CPN' || (1 + floor(random() * 50)::int) END,
	   date '2024-01-01' + floor(random() * 365)::int,
	   (ARRAY['new', 'paid', 'shipped'])[1 + floor(random() * 3)::int]::mt_bench.status,
	   round((c.age * 2 + random() * 50)::numeric, 2) + 1
FROM mt_bench.customers c, generate_series(1, 4) g WHERE g <= c.age / 20;
INSERT INTO mt_bench.order_items
SELECT o.id, g, 1 + floor(power(random(), 2) * greatest($CUSTOMERS / 10, 20))::int, 1 + floor(random() * 4)::int
FROM mt_bench.orders o, generate_series(1, 3) g WHERE g <= 1 + o.id % 3;
INSERT INTO mt_bench.payments (order_id, method, paid_at)
SELECT o.id, (ARRAY['card', 'cash'])[1 + floor(random() * 2)::int], o.placed + interval '1 day' * floor(random() * 5)
FROM mt_bench.orders o WHERE o.status <> 'new';
INSERT INTO mt_bench.shipments (order_id, line_no, carrier)
SELECT order_id, line_no, (ARRAY['ups', 'dhl'])[1 + floor(random() * 2)::int] FROM mt_bench.order_items WHERE random() < 0.5;
ANALYZE;"
REAL_ROWS=$(query "SELECT sum((xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM mt_bench.%I', relname), false, true, '')))[1]::text::bigint) FROM pg_class WHERE relnamespace = 'mt_bench'::regnamespace AND relkind = 'r'")
echo "real schema: $REAL_ROWS rows in 7 tables"

read -r TRAIN_S _ < <(time_and_peak "SELECT synth_train_schema('mt_bench') \gset" | paste -sd' ')
echo "(a) synth_train_schema: ${TRAIN_S} s"

read -r N1 M1_S M1_MB < <(time_and_peak "SELECT sum(rows) FROM synth_materialize('mt_bench', 'mt_bench_1', 1.0, 1);" | paste -sd' ')
read -r N5 M5_S M5_MB < <(time_and_peak "SELECT sum(rows) FROM synth_materialize('mt_bench', 'mt_bench_5', 5.0, 1);" | paste -sd' ')
echo "(b) synth_materialize scale 1: ${N1} rows in ${M1_S} s, at most ${M1_MB} MB held"
echo "(b) synth_materialize scale 5: ${N5} rows in ${M5_S} s, $(query "SELECT round($N5 / $M5_S)") rows/s, at most ${M5_MB} MB held"

read -r NC MC_S MC_MB < <(time_and_peak "SELECT sum(rows) FROM synth_materialize('mt_bench', 'mt_bench_c', 1.0, 1,
	conditions => '{\"customers\": {\"where\": \"age > 60\"}, \"orders\": {\"where\": \"amount > 100 AND status = ''paid''\"}}');" | paste -sd' ')
echo "(b) conditioned (customers age > 60, their orders amount > 100 AND status = 'paid') scale 1: ${NC} rows in ${MC_S} s, $(query "SELECT round($NC / $MC_S)") rows/s, at most ${MC_MB} MB held"

read -r E_S _ < <(time_and_peak "CREATE TEMP TABLE e AS SELECT * FROM synth_evaluate_schema('mt_bench', 'mt_bench_1');" | paste -sd' ')
echo "(c) synth_evaluate_schema at scale 1: ${E_S} s"
query "SELECT 'scale 1: ' || string_agg(metric || ' ' || round(score::numeric, 3), ', ' ORDER BY metric)
FROM synth_evaluate_schema('mt_bench', 'mt_bench_1') WHERE table_name IS NULL;"
query "SELECT 'scale 1: ' || string_agg(column_name || ' ' || round(score::numeric, 3), ', ' ORDER BY column_name)
FROM synth_evaluate_schema('mt_bench', 'mt_bench_1') WHERE metric = 'CardinalityShapeSimilarity';"

query "DROP SCHEMA mt_bench, mt_bench_1, mt_bench_5, mt_bench_c CASCADE;
DELETE FROM synth.models WHERE id IN (SELECT model_id FROM synth.model_set_members m
	JOIN synth.model_sets s ON s.id = m.set_id WHERE s.source_schema = 'mt_bench');
DELETE FROM synth.model_sets WHERE source_schema = 'mt_bench';" >/dev/null
