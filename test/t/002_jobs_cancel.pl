# Cancelling background jobs: a queued one at once, a running one within
# seconds and without a model; a cancel that rolls back cancels nothing.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../perl";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use SynthTest;
use Test::More;
use Time::HiRes qw(time);

# one worker: the second job stays queued behind the first
my $node = synth_node('cancel', 'synth.max_workers' => 1);

$node->safe_psql('postgres', q{
	CREATE TABLE t AS SELECT g AS id, (g % 5)::text AS city FROM generate_series(1, 500) g;
	CREATE ROLE bob LOGIN;
});
make_slow_view($node, 'slow', 1000);
make_slow_view($node, 'slow_short', 200);

my ($running, $queued) = split /\n/, $node->safe_psql('postgres', q{
	SET synth.read_batch_rows = 100;
	SELECT synth_train_async('slow');
	SELECT synth_train_async('t');
});
wait_for($node, "SELECT state = 'running' AND rows_read >= 100 FROM synth.jobs WHERE id = $running",
	't', 'the slow job runs');
is(job_state($node, $queued), 'queued', 'the second job waits for the only worker');

# ---- a queued job: at once
is($node->safe_psql('postgres', "SELECT synth_job_cancel($queued)"), 't', 'cancel of a queued job');
is( $node->safe_psql('postgres', "SELECT state, finished_at IS NOT NULL, model_id IS NULL FROM synth.jobs WHERE id = $queued"),
	'cancelled|t|t', 'is cancelled at once');

# ---- permissions and bad ids
my ($ret, $stdout, $stderr) = $node->psql('postgres', "SET ROLE bob; SELECT synth_job_cancel($running)");
like($stderr, qr/permission denied to cancel synth job $running/, 'another role may not cancel the job');
($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT synth_job_cancel(987654)');
like($stderr, qr/synth job 987654 does not exist/, 'cancel of a job that does not exist');

# ---- a running job: within seconds, no model
my $start = time();
is($node->safe_psql('postgres', "SELECT synth_job_cancel($running)"), 't', 'cancel of a running job');
is($node->safe_psql('postgres', "SELECT synth_job_wait($running, '30s')"), 'cancelled', 'the running job ends cancelled');
my $elapsed = time() - $start;
cmp_ok($elapsed, '<', 5, "within a few seconds ($elapsed s)");
is( $node->safe_psql('postgres', "SELECT error, model_id IS NULL, rows_read < 1000 FROM synth.jobs WHERE id = $running"),
	'cancelled by synth_job_cancel|t|t', 'it stopped part way and says why');
is($node->safe_psql('postgres', "SELECT count(*) FROM synth.models WHERE source_table = 'slow'"),
	'0', 'a cancelled job leaves no model');

($ret, $stdout, $stderr) = $node->psql('postgres', "SELECT synth_job_cancel($running)");
is($stdout, 'f', 'cancelling an ended job returns false');
like($stderr, qr/synth job $running has already ended: cancelled/, 'with a NOTICE');

# ---- a cancel that rolls back does not reach the worker
my $kept = $node->safe_psql('postgres', q{
	SET synth.read_batch_rows = 100;
	SELECT synth_train_async('slow_short');
});
wait_for($node, "SELECT state = 'running' AND rows_read >= 100 FROM synth.jobs WHERE id = $kept",
	't', 'another slow job runs');
$node->safe_psql('postgres', "BEGIN; SELECT synth_job_cancel($kept); ROLLBACK;");
is($node->safe_psql('postgres', "SELECT synth_job_wait($kept, '30s')"), 'succeeded',
	'a rolled-back cancel leaves the job running to the end');

# ---- the worker goes on with new jobs
my $after = $node->safe_psql('postgres', "SELECT synth_train_async('t')");
is($node->safe_psql('postgres', "SELECT synth_job_wait($after, '30s')"), 'succeeded', 'jobs after a cancel succeed');

$node->stop;
done_testing();
