# Checkpoints of neural trainings run as jobs: a tvae job killed (-9) after
# a checkpoint resumes from it (not from epoch 1), stores one model, and
# its weights are those of an uninterrupted training with the same seed (so
# the checkpoint holds the whole state); a ctgan job likewise; a fast
# shutdown resumes too; a private (DP-SGD) job killed mid-training spends
# its budget once; a corrupt checkpoint is discarded with a WARNING; a
# read that wrote is not committed apart from its model; checkpoints are
# deleted when a job ends (succeeded, cancelled, failed); interruptions
# count only while no checkpoint is saved; a table dropped
# during the epochs fails its job at the next checkpoint;
# pg_terminate_backend of a job's worker fails the job.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../perl";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use SynthTest;
use Test::More;
use Time::HiRes qw(usleep);

my $node = synth_node('checkpoint', 'synth.max_workers' => 2, 'restart_after_crash' => 'on',
	'synth.checkpoint_interval' => '1s');

# 2,000 rows: an epoch of tvae in batches of 50 takes tens of milliseconds,
# so a checkpoint a second comes every few tens of epochs.
$node->safe_psql('postgres', q{
	CREATE TABLE t AS
	SELECT g AS id, (g % 5)::text AS cat, (g * 37 % 101)::float8 / 7 AS x, g % 3 = 0 AS flag
	FROM generate_series(1, 2000) g});

sub options
{
	my ($epochs) = @_;
	return qq('{"epochs": $epochs, "batch_size": 50, "seed": 7, "device": "cpu", "progress_every": 0}');
}

sub queue
{
	my ($epochs) = @_;
	return $node->safe_psql('postgres', "SELECT synth_train_async('t', 'tvae', " . options($epochs) . ")");
}

sub weights_md5
{
	my ($model) = @_;
	return $node->safe_psql('postgres', "SELECT md5(weights) FROM synth.models WHERE id = $model");
}

sub checkpoint_epoch
{
	my ($job) = @_;
	return $node->safe_psql('postgres', "SELECT coalesce(max(epoch), 0) FROM synth.checkpoints WHERE job_id = $job");
}

sub wait_checkpoint
{
	my ($job) = @_;
	wait_for($node, "SELECT count(*) FROM synth.checkpoints WHERE job_id = $job", '1',
		"job $job saved a checkpoint");
	return checkpoint_epoch($job);
}

# Uninterrupted references, trained in this session.
my $reference = weights_md5($node->safe_psql('postgres', "SELECT synth_train('t', 'tvae', " . options(80) . ")"));
my $reference_short = weights_md5($node->safe_psql('postgres', "SELECT synth_train('t', 'tvae', " . options(12) . ")"));

# ---- kill -9 after a checkpoint: resumed from it, same weights
my $job = queue(80);
my $saved = wait_checkpoint($job);
cmp_ok($saved, '>=', 1, "the checkpoint is after epoch $saved");
my $pid = $node->safe_psql('postgres', "SELECT worker_pid FROM synth.jobs WHERE id = $job");
ok(kill('KILL', $pid), "kill -9 of the job worker $pid");
wait_for($node, "SELECT state FROM synth.jobs WHERE id = $job", 'succeeded',
	'after the crash restart the job succeeds');
is($node->safe_psql('postgres', "SELECT attempts, epoch, epochs FROM synth.jobs WHERE id = $job"),
	'2|80|80', 'on its second attempt, all epochs done');
ok($node->log_contains("synth job $job was interrupted; resuming it from its checkpoint after epoch"),
	'the claim says it resumes from a checkpoint');
my ($resumed) = slurp_file($node->logfile) =~ /synth job $job resumes tvae from its checkpoint after epoch (\d+) of 80/;
ok(defined $resumed && $resumed >= $saved, 'the training resumed after epoch ' . ($resumed // 'none'));
cmp_ok($resumed // 0, '>=', 1, 'so its first epoch run again was epoch 2 or later, not 1');
my $model = $node->safe_psql('postgres', "SELECT model_id FROM synth.jobs WHERE id = $job");
is($node->safe_psql('postgres', "SELECT count(*) FROM synth.models"), '3',
	'one model stored by the job (besides the two references)');
is(weights_md5($model), $reference,
	'its weights are those of the uninterrupted training with the same seed');
is(checkpoint_epoch($job), '0', 'its checkpoint is deleted');

# ---- ctgan likewise: two networks, batch-norm statistics, dropout's stream
$node->safe_psql('postgres', "CREATE TABLE s AS SELECT * FROM t WHERE id <= 500");
my $ctgan_options = q('{"epochs": 80, "batch_size": 100, "seed": 7, "device": "cpu", "progress_every": 0}');
my $ctgan_reference = weights_md5($node->safe_psql('postgres', "SELECT synth_train('s', 'ctgan', $ctgan_options)"));
$job = $node->safe_psql('postgres', "SELECT synth_train_async('s', 'ctgan', $ctgan_options)");
$saved = wait_checkpoint($job);
$pid = $node->safe_psql('postgres', "SELECT worker_pid FROM synth.jobs WHERE id = $job");
ok(kill('KILL', $pid), "kill -9 of the ctgan job's worker after its checkpoint at epoch $saved");
wait_for($node, "SELECT state, attempts FROM synth.jobs WHERE id = $job", 'succeeded|2',
	'the ctgan job succeeds on its second attempt');
ok($node->log_contains("synth job $job resumes ctgan from its checkpoint after epoch"), 'resumed from its checkpoint');
is(weights_md5($node->safe_psql('postgres', "SELECT model_id FROM synth.jobs WHERE id = $job")), $ctgan_reference,
	'with the weights of the uninterrupted ctgan training');

# ---- a private (DP-SGD) tvae job killed mid-training spends its budget once:
# it spends before reading, in the one transaction that stores its model
$node->safe_psql('postgres', "SELECT synth_set_budget('t', 3)");
my $dp_options = q('{"epsilon": 1, "domains": {"cat": ["0", "1", "2", "3", "4"]}, )
  . q("bounds": {"id": [1, 2000], "x": [0, 15]}, "epochs": 10, "batch_size": 100, "seed": 7, )
  . q("device": "cpu", "progress_every": 0}');
$job = $node->safe_psql('postgres', "SELECT synth_train_async('t', 'tvae', $dp_options)");
wait_for($node, "SELECT coalesce(epoch, 0) >= 2 FROM synth.jobs WHERE id = $job", 't',
	'the private job is training');
$pid = $node->safe_psql('postgres', "SELECT worker_pid FROM synth.jobs WHERE id = $job");
ok(kill('KILL', $pid), "kill -9 of the private job's worker");
wait_for($node, "SELECT state, attempts FROM synth.jobs WHERE id = $job", 'succeeded|2',
	'the private job succeeds on its second attempt');
ok($node->log_contains("synth job $job was interrupted; resuming it from its start"),
	'from its start: a private training does not checkpoint');
$model = $node->safe_psql('postgres', "SELECT model_id FROM synth.jobs WHERE id = $job");
is($node->safe_psql('postgres', "SELECT count(*), sum(epsilon) FROM synth.ledger WHERE source_table = 't'"),
	'1|1', 'one ledger row, epsilon 1');
is($node->safe_psql('postgres', "SELECT model_id FROM synth.ledger WHERE source_table = 't'"), $model,
	'for the model the job stored');
is($node->safe_psql('postgres', "SELECT epsilon_spent FROM synth_budget('t')"), '1',
	'the budget is spent once');

# ---- a fast shutdown (SIGTERM from the postmaster) resumes at the next start
$job = queue(80);
wait_checkpoint($job);
$node->stop('fast');
$node->start;
is($node->safe_psql('postgres', "SELECT synth_job_wait($job, '120s')"), 'succeeded',
	'a job stopped by a fast shutdown succeeds after the start');
ok($node->log_contains("synth job $job was interrupted; resuming it from its checkpoint after epoch"),
	'resumed from its checkpoint');
is(weights_md5($node->safe_psql('postgres', "SELECT model_id FROM synth.jobs WHERE id = $job")), $reference,
	'with the same weights again');

# ---- interruptions count only while no checkpoint is saved: a job whose
# last checkpoint came in its latest attempt is resumed however many times it
# was interrupted before (as if 4 times, each after a checkpoint) ...
$job = queue(80);
wait_checkpoint($job);
$node->safe_psql('postgres', "UPDATE synth.job_queue SET attempts = 5 WHERE id = $job; "
	. "UPDATE synth.checkpoints SET attempt = 5 WHERE job_id = $job");
$pid = $node->safe_psql('postgres', "SELECT worker_pid FROM synth.jobs WHERE id = $job");
ok(kill('KILL', $pid), "kill -9 of job $job, interrupted for the 5th time, after a checkpoint");
wait_for($node, "SELECT state, attempts FROM synth.jobs WHERE id = $job", 'succeeded|6',
	'the job that saves checkpoints is resumed a 6th time and succeeds');
is(weights_md5($node->safe_psql('postgres', "SELECT model_id FROM synth.jobs WHERE id = $job")), $reference,
	'with the same weights again');
# ... and one interrupted 3 times since its last checkpoint is given up
# (checkpoints off meanwhile, so that it saves none itself)
$node->safe_psql('postgres', "ALTER SYSTEM SET synth.checkpoint_interval = 0; SELECT pg_reload_conf()");
usleep(300_000);
$job = $node->safe_psql('postgres', "SELECT synth_train_async('t', 'tvae', " . options(100000) . ")");
wait_for($node, "SELECT coalesce(epoch, 0) >= 1 FROM synth.jobs WHERE id = $job", 't', "job $job is training");
$node->safe_psql('postgres', "UPDATE synth.job_queue SET attempts = 5 WHERE id = $job; "
	. "INSERT INTO synth.checkpoints (job_id, epoch, state, attempt) VALUES ($job, 1, '\\x00', 2)");
$pid = $node->safe_psql('postgres', "SELECT worker_pid FROM synth.jobs WHERE id = $job");
ok(kill('KILL', $pid), "kill -9 of job $job, 3 attempts after its checkpoint");
wait_for($node, "SELECT state FROM synth.jobs WHERE id = $job", 'failed', 'the job is given up');
like($node->safe_psql('postgres', "SELECT error FROM synth.jobs WHERE id = $job"),
	qr/interrupted 3 times in a row without saving a checkpoint/, 'and says why');
$node->safe_psql('postgres', "ALTER SYSTEM RESET synth.checkpoint_interval; SELECT pg_reload_conf()");
usleep(300_000);

# ---- a corrupt checkpoint is discarded: the job trains from epoch 1
$job = $node->safe_psql('postgres', "WITH j AS (SELECT synth_train_async('t', 'tvae', " . options(12) . ") AS id) "
	. "INSERT INTO synth.checkpoints (job_id, epoch, state) SELECT id, 5, '\\x53594e5448434b50ff'::bytea FROM j "
	. "RETURNING job_id");
is($node->safe_psql('postgres', "SELECT synth_job_wait($job, '120s')"), 'succeeded',
	'a job with a corrupt checkpoint succeeds');
ok($node->log_contains("synth job $job discards its checkpoint and trains from epoch 1"),
	'with a WARNING that it discarded the checkpoint');
is(weights_md5($node->safe_psql('postgres', "SELECT model_id FROM synth.jobs WHERE id = $job")), $reference_short,
	'and the weights of a training from epoch 1');

# ---- a read that wrote (as a privacy budget spent before reading would) is
# not committed apart from its model: no checkpoints for that job
$node->safe_psql('postgres', q{
	CREATE TABLE audit (at timestamptz);
	CREATE FUNCTION note() RETURNS int LANGUAGE plpgsql VOLATILE
		AS $$ BEGIN INSERT INTO audit VALUES (now()); RETURN 1; END $$;
	CREATE VIEW t_noted AS SELECT t.*, CASE WHEN t.id = 1 THEN note() ELSE 0 END AS noted FROM t});
$job = $node->safe_psql('postgres', "SELECT synth_train_async('t_noted', 'tvae', " . options(12) . ")");
is($node->safe_psql('postgres', "SELECT synth_job_wait($job, '120s')"), 'succeeded', 'a job whose read writes succeeds');
ok($node->log_contains("synth job $job trains without checkpoints: its transaction wrote to the database before training"),
	'it trained in its one transaction, without checkpoints');
is($node->safe_psql('postgres', "SELECT count(*) FROM audit"), '1', 'and its write committed once, with the model');

# ---- cancel of a training between transactions
$job = queue(100000);
wait_checkpoint($job);
is($node->safe_psql('postgres', "SELECT synth_job_cancel($job)"), 't', 'cancel the running job');
is($node->safe_psql('postgres', "SELECT synth_job_wait($job, '60s')"), 'cancelled', 'it is cancelled');
is($node->safe_psql('postgres', "SELECT model_id IS NULL, attempts FROM synth.jobs WHERE id = $job"), 't|1',
	'without a model');
is(checkpoint_epoch($job), '0', 'and without its checkpoint');

# ---- a table dropped during the epochs fails its job at the next checkpoint
$node->safe_psql('postgres', "CREATE TABLE gone AS SELECT * FROM t");
$job = $node->safe_psql('postgres', "SELECT synth_train_async('gone', 'tvae', " . options(100000) . ")");
wait_checkpoint($job);
$node->safe_psql('postgres', "DROP TABLE gone");
is($node->safe_psql('postgres', "SELECT synth_job_wait($job, '60s')"), 'failed',
	'a job whose table is dropped during its epochs fails (DROP TABLE did not wait for it)');
like($node->safe_psql('postgres', "SELECT error FROM synth.jobs WHERE id = $job"),
	qr/^table "public.gone" of synth job $job no longer exists/, 'saying its table no longer exists');
is(checkpoint_epoch($job), '0', 'and its checkpoint is deleted');

# ---- pg_terminate_backend of the worker fails the job, which is not resumed
$job = queue(100000);
wait_checkpoint($job);
$pid = $node->safe_psql('postgres', "SELECT worker_pid FROM synth.jobs WHERE id = $job");
is($node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)"), 't', 'terminate the worker');
is($node->safe_psql('postgres', "SELECT synth_job_wait($job, '60s')"), 'failed', 'the job fails');
like($node->safe_psql('postgres', "SELECT error FROM synth.jobs WHERE id = $job"),
	qr/^its worker \(process $pid\) was terminated by process \d+ \(pg_terminate_backend\)/,
	'its error says its worker was terminated');
is($node->safe_psql('postgres', "SELECT model_id IS NULL, attempts FROM synth.jobs WHERE id = $job"), 't|1',
	'no model, one attempt');
is(checkpoint_epoch($job), '0', 'its checkpoint is deleted');
usleep(500_000);
is(job_state($node, $job), 'failed', 'and no worker resumed it');

is($node->safe_psql('postgres', "SELECT count(*) FROM synth.checkpoints"), '0', 'no checkpoint is left');
is($node->safe_psql('postgres', "SELECT count(*) FROM synth.jobs WHERE state IN ('queued', 'running')"),
	'0', 'no job is left behind');

$node->stop;
done_testing();
