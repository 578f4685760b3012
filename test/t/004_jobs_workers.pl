# Many jobs, two workers: every job runs once (no double claim), never more
# than synth.max_workers at a time; a job whose table was dropped meanwhile
# fails with a clear error.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../perl";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use SynthTest;
use Test::More;
use Time::HiRes qw(usleep);

my $jobs = 16;
my $node = synth_node('workers', 'synth.max_workers' => 2);
make_slow_view($node, "v$_", 30) for 0 .. 3;

# ---- many queued jobs, two workers
my $ids = $node->safe_psql('postgres', qq{
	SELECT string_agg(synth_train_async(('v' || g % 4)::regclass)::text, ',' ORDER BY g)
	FROM generate_series(1, $jobs) g;
});

# sample how many job workers run until every job has ended
my $most = 0;
for (my $i = 0; $i < 1200; $i++)
{
	my ($workers, $open) = split /\|/, $node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'synth job worker'),
			   (SELECT count(*) FROM synth.jobs WHERE state IN ('queued', 'running'))});
	$most = $workers if $workers > $most;
	last if $open == 0;
	usleep(50_000);
}
is($node->safe_psql('postgres', "SELECT count(*) FROM synth.jobs WHERE id IN ($ids) AND state = 'succeeded'"),
	$jobs, "all $jobs jobs succeeded");
is($node->safe_psql('postgres', "SELECT count(*) FROM synth.jobs WHERE id IN ($ids) AND attempts <> 1"),
	'0', 'each was started exactly once');
is( $node->safe_psql('postgres', "SELECT count(*), count(DISTINCT model_id) FROM synth.jobs WHERE id IN ($ids)"),
	"$jobs|$jobs", 'each has its own model');
is($node->safe_psql('postgres', 'SELECT count(*) FROM synth.models'), $jobs, 'and no model was stored twice');
is($node->safe_psql('postgres', "SELECT count(DISTINCT worker_pid) >= 2 FROM synth.jobs WHERE id IN ($ids)"),
	't', 'both workers took jobs');
cmp_ok($most, '<=', 2, "never more than synth.max_workers job workers ($most seen)");
my $overlap = $node->safe_psql('postgres', qq{
		SELECT max((SELECT count(*) FROM synth.jobs b WHERE b.id IN ($ids)
					AND b.started_at <= a.started_at AND a.started_at < b.finished_at))
		FROM synth.jobs a WHERE a.id IN ($ids)});
cmp_ok($overlap, '<=', 2, "never more than two jobs ran at once ($overlap at most)");
is( $node->safe_psql('postgres', qq{
		SELECT count(*) FROM synth.jobs a JOIN synth.jobs b
		  ON a.id < b.id AND a.worker_pid = b.worker_pid
		 AND a.started_at < b.finished_at AND b.started_at < a.finished_at
		WHERE a.id IN ($ids) AND b.id IN ($ids)}),
	'0', 'a worker runs one job at a time');

# ---- the table is dropped while the job waits
$node->append_conf('postgresql.conf', 'synth.max_workers = 0');
$node->reload;
$node->safe_psql('postgres', 'CREATE TABLE gone AS SELECT g AS x FROM generate_series(1, 100) g');
my $job = $node->safe_psql('postgres', "SELECT synth_train_async('gone')");
$node->safe_psql('postgres', 'DROP TABLE gone');
$node->append_conf('postgresql.conf', 'synth.max_workers = 2');
$node->reload;
is($node->safe_psql('postgres', "SELECT synth_job_wait($job, '60s')"), 'failed', 'the job of a dropped table fails');
like($node->safe_psql('postgres', "SELECT error FROM synth.jobs WHERE id = $job"),
	qr/table "public.gone" of synth job $job no longer exists\nDETAIL:  The table was dropped after the job was queued.\nHINT:  /,
	'with an error that names the table and says what happened');

$node->stop;
done_testing();
