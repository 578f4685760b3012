# Crash safety: a job whose worker is killed (-9) or whose postmaster is
# killed (-9) is resumed after the restart, finishes once, and its model is
# stored once.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../perl";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use SynthTest;
use Test::More;
use Time::HiRes qw(usleep);

my $node = synth_node('crash', 'synth.max_workers' => 2, 'restart_after_crash' => 'on');
make_slow_view($node, 'slow_a', 300);
make_slow_view($node, 'slow_b', 300);

# A process's state letter from /proc (Z: a zombie), or '' once it is gone.
sub process_state
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/stat") or return '';
	my $stat = <$fh>;
	close($fh);
	return $stat =~ /^\d+ \(.*\) (\S)/ ? $1 : '';
}

sub wait_gone
{
	my ($pid) = @_;
	for (my $i = 0; $i < 300; $i++)
	{
		my $state = process_state($pid);
		return 1 if $state eq '' || $state eq 'Z';
		usleep(100_000);
	}
	return 0;
}

# Queue a slow job and wait until its worker has read some rows.
sub start_slow_job
{
	my ($view) = @_;
	my $job = $node->safe_psql('postgres', qq{
		SET synth.read_batch_rows = 100;
		SELECT synth_train_async('$view');
	});
	wait_for($node, "SELECT state = 'running' AND rows_read >= 100 FROM synth.jobs WHERE id = $job",
		't', "job on $view is training");
	return $job;
}

# ---- kill -9 of the job worker: the postmaster restarts everything
my $job = start_slow_job('slow_a');
my $pid = $node->safe_psql('postgres', "SELECT worker_pid FROM synth.jobs WHERE id = $job");
ok(kill('KILL', $pid), "kill -9 of the job worker $pid");
wait_for($node, "SELECT state, attempts FROM synth.jobs WHERE id = $job", "succeeded|2",
	'after the crash restart the job is resumed and succeeds on its second attempt');
is($node->safe_psql('postgres', "SELECT count(*) FROM synth.models WHERE source_table = 'slow_a'"),
	'1', 'its model is stored once');
ok($node->log_contains("synth job $job was interrupted; resuming it from its start"), 'the log says it was resumed');

# ---- kill -9 of the postmaster, then start
$job = start_slow_job('slow_b');
$pid = $node->safe_psql('postgres', "SELECT worker_pid FROM synth.jobs WHERE id = $job");
my $old_pid = $node->{_pid};
$node->kill9;

# the children notice the postmaster's death and exit
ok(wait_gone($old_pid), 'the killed postmaster is gone');
ok(wait_gone($pid), 'its job worker exited with it');
# a postmaster nobody reaped yet still looks alive to the next one
if (process_state($old_pid) eq 'Z')
{
	unlink($node->data_dir . '/postmaster.pid');
	unlink($node->host . '/.s.PGSQL.' . $node->port . '.lock');
}
$node->start;

is($node->safe_psql('postgres', "SELECT synth_job_wait($job, '60s')"), 'succeeded', 'after the restart the job succeeds');
is($node->safe_psql('postgres', "SELECT attempts, model_id IS NOT NULL FROM synth.jobs WHERE id = $job"),
	'2|t', 'on its second attempt');
is($node->safe_psql('postgres', "SELECT count(*) FROM synth.models WHERE source_table = 'slow_b'"),
	'1', 'its model is stored once');
is($node->safe_psql('postgres', "SELECT count(*) FROM synth.jobs WHERE state IN ('queued', 'running')"),
	'0', 'no job is left behind');

$node->stop;
done_testing();
