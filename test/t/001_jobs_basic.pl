# Background jobs: queue and finish, progress while running, NOTIFY, the
# submitting role's privileges, a schema in foreign-key order, and the error
# without shared_preload_libraries.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../perl";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use SynthTest;
use Test::More;

my $node = synth_node('basic', 'synth.max_workers' => 2);

$node->safe_psql('postgres', q{
	CREATE TABLE t AS SELECT g AS id, (g % 5)::text AS city, (g * 7 % 90)::int AS age
		FROM generate_series(1, 2000) g;
	CREATE ROLE alice LOGIN;
	GRANT SELECT ON t TO alice;
	CREATE TABLE secret AS SELECT g AS x FROM generate_series(1, 100) g;
	GRANT SELECT ON secret TO alice;
});
make_slow_view($node, 'slow', 200);

# ---- queue and finish, with the notification
my $out = $node->safe_psql('postgres', q{
	LISTEN synth_jobs;
	SELECT synth_train_async('t') AS job \gset
	SELECT synth_job_wait(:job, '60s');
	SELECT 'job ' || :job;
});
like($out, qr/^succeeded$/m, 'synth_job_wait returns the final state');
my ($job) = $out =~ /^job (\d+)$/m;
like($out, qr/Asynchronous notification "synth_jobs" with payload "$job succeeded"/,
	'NOTIFY synth_jobs with the id and the state');

is( $node->safe_psql('postgres', qq{
		SELECT j.state, j.attempts, j.rows_read, j.phase, j.error IS NULL,
			   j.started_at <= j.finished_at, m.source_table, m.created_by = current_user
		FROM synth.jobs j JOIN synth.models m ON m.id = j.model_id WHERE j.id = $job}),
	'succeeded|1|2000|done|t|t|t|t',
	'the job row records its model, rows read and times');

# ---- progress while it runs
my $slow = $node->safe_psql('postgres', q{
	SET synth.read_batch_rows = 100;
	SELECT synth_train_async('slow');
});
wait_for($node, "SELECT state = 'running' AND phase = 'reading' AND rows_read >= 100
				 AND worker_pid IS NOT NULL FROM synth.jobs WHERE id = $slow",
	't', 'a running job shows its phase and the rows read so far');
is( $node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity
		WHERE backend_type = 'synth job worker' AND query LIKE 'synth job $slow:%'"),
	'1', 'pg_stat_activity names the job a worker runs');
is($node->safe_psql('postgres', "SELECT synth_job_wait($slow, '60s')"), 'succeeded', 'slow job finishes');
is( $node->safe_psql('postgres', "SELECT rows_read, settings->>'synth.read_batch_rows' FROM synth.jobs WHERE id = $slow"),
	'200|100', 'the worker trained with the submitting session\'s synth settings');

# ---- a method with epochs reports them, and its loss
my $tvae = $node->safe_psql('postgres', q{
	SET synth.device = 'cpu';
	SELECT synth_train_async('t', 'tvae', '{"epochs": 3, "batch_size": 500}');
});
is($node->safe_psql('postgres', "SELECT synth_job_wait($tvae, '120s')"), 'succeeded', 'a tvae job succeeds');
is( $node->safe_psql('postgres', "SELECT epoch, epochs, losses ? 'loss', m.method FROM synth.jobs j
		JOIN synth.models m ON m.id = j.model_id WHERE j.id = $tvae"),
	'3|3|t|tvae', 'synth.jobs shows its epochs and latest loss');

# ---- the job trains as the role that queued it
my $alice = $node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT synth_train_async('t');
});
is($node->safe_psql('postgres', "SELECT synth_job_wait($alice, '60s')"), 'succeeded', 'alice\'s job succeeds');
is( $node->safe_psql('postgres', "SELECT m.created_by, j.submitted_by FROM synth.jobs j
		JOIN synth.models m ON m.id = j.model_id WHERE j.id = $alice"),
	'alice|alice', 'the model was trained and stored as alice');

$node->safe_psql('postgres', 'REVOKE SELECT ON t FROM alice');
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{
	SET ROLE alice;
	SELECT synth_train_async('t');
});
like($stderr, qr/permission denied to train on table "t"/, 'queueing needs SELECT on the table');

# privileges are checked again when the job runs: revoked meanwhile, it fails
$node->append_conf('postgresql.conf', 'synth.max_workers = 0');
$node->reload;
($ret, $out, $stderr) = $node->psql('postgres', q{
	SET ROLE alice;
	SELECT synth_train_async('secret');
});
like($stderr, qr/synth.max_workers is 0: the job waits until it is raised/, 'NOTICE when no worker may run');
my $revoked = $out;
$node->safe_psql('postgres', 'REVOKE SELECT ON secret FROM alice');
is(job_state($node, $revoked), 'queued', 'the job waits while synth.max_workers is 0');
$node->append_conf('postgresql.conf', 'synth.max_workers = 2');
$node->reload;
is($node->safe_psql('postgres', "SELECT synth_job_wait($revoked, '60s')"), 'failed',
	'a job whose role lost SELECT meanwhile fails (no escalation to the worker\'s superuser)');
like($node->safe_psql('postgres', "SELECT error FROM synth.jobs WHERE id = $revoked"),
	qr/permission denied to train on table "secret"/, 'with the privilege error');

# ---- a schema, parents before children
$node->safe_psql('postgres', q{
	CREATE SCHEMA shop;
	CREATE TABLE shop.customers (id int PRIMARY KEY, city text);
	CREATE TABLE shop.orders (id int PRIMARY KEY, customer_id int REFERENCES shop.customers, amount numeric(8,2));
	CREATE TABLE shop.items (id int PRIMARY KEY, order_id int REFERENCES shop.orders, qty int);
	CREATE TABLE shop.a_notes (id int PRIMARY KEY, customer_id int REFERENCES shop.customers, note text);
	CREATE TABLE shop.empty (x int);
	INSERT INTO shop.customers SELECT g, 'c' || g % 4 FROM generate_series(1, 100) g;
	INSERT INTO shop.orders SELECT g, 1 + g % 100, g FROM generate_series(1, 300) g;
	INSERT INTO shop.items SELECT g, 1 + g % 300, g % 3 FROM generate_series(1, 600) g;
	INSERT INTO shop.a_notes SELECT g, 1 + g % 100, 'n' FROM generate_series(1, 50) g;
});
($ret, $out, $stderr) = $node->psql('postgres', q{
	SELECT string_agg(j::text, ',') FROM synth_train_schema_async('shop') j;
});
like($stderr, qr/table "shop.empty" is empty and is skipped/, 'empty tables are skipped with a NOTICE');
my @ids = split /,/, $out;
is(scalar(@ids), 4, 'one job per table with rows');
is( $node->safe_psql('postgres', "SELECT string_agg(source_table, ',' ORDER BY id) FROM synth.jobs
		WHERE id IN ($out)"),
	'customers,a_notes,orders,items', 'queued parents before children along the foreign keys');
wait_for($node, "SELECT count(*) FILTER (WHERE state = 'succeeded') FROM synth.jobs WHERE id IN ($out)",
	'4', 'every table of the schema is trained');

($ret, $stdout, $stderr) = $node->psql('postgres', q{
	BEGIN;
	SELECT synth_train_async('t') AS j \gset
	SELECT synth_job_wait(:j, '1s');
});
like($stderr, qr/was queued or cancelled in this transaction/, 'waiting for a job of the same transaction is refused');

# ---- without shared_preload_libraries
$node->append_conf('postgresql.conf', "shared_preload_libraries = ''");
$node->restart;
($ret, $stdout, $stderr) = $node->psql('postgres', "SELECT synth_train_async('t')");
like($stderr, qr/background training jobs need synth in shared_preload_libraries/, 'no preload: an error');
like($stderr, qr/HINT:  Add synth to shared_preload_libraries/, 'whose hint says how to enable the jobs');
is($node->safe_psql('postgres', "SELECT synth_job_wait($job)"), 'succeeded', 'ended jobs can still be read');

$node->stop;
done_testing();
