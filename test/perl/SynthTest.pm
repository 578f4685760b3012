# SynthTest.pm: what the TAP tests of synth's background jobs share: a
# cluster with synth preloaded, slow sources to train on, and waits that
# poll with a timeout instead of sleeping.

package SynthTest;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use Exporter 'import';
our @EXPORT = qw(synth_node make_slow_view wait_for job_state);

# A started cluster with synth preloaded and created in database postgres.
sub synth_node
{
	my ($name, %conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init;
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'synth'");
	$node->append_conf('postgresql.conf', "log_statement = none");
	$node->append_conf('postgresql.conf', "$_ = '$conf{$_}'") for sort keys %conf;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION synth');
	return $node;
}

# A view whose every row takes 10 ms to read: a training over it lasts
# rows / 100 seconds, long enough to watch, cancel or crash.
sub make_slow_view
{
	my ($node, $name, $rows) = @_;

	$node->safe_psql('postgres', qq{
		CREATE VIEW $name AS
		SELECT g AS id, g % 7 AS bucket, (g * 37 % 101)::float8 AS value
		FROM generate_series(1, $rows) g, LATERAL pg_sleep(0.01 * (g > 0)::int)});
}

# Poll a query until it returns the expected text; fails the test on timeout.
sub wait_for
{
	my ($node, $query, $expected, $what) = @_;

	ok($node->poll_query_until('postgres', $query, $expected), $what);
}

sub job_state
{
	my ($node, $job) = @_;

	return $node->safe_psql('postgres', "SELECT state FROM synth.jobs WHERE id = $job");
}

1;
