-- background jobs without shared_preload_libraries (the regression cluster
-- has none): the catalog is there, queueing says how to enable the workers
CREATE EXTENSION synth;
\set VERBOSITY default
CREATE TABLE jobs_src AS SELECT g AS id, g % 3 AS k FROM generate_series(1, 50) g;

SELECT synth_train_async('jobs_src');
SELECT * FROM synth_train_schema_async('public');
SELECT count(*) FROM synth.jobs;

-- unknown jobs and bad arguments
SELECT synth_job_cancel(424242);
SELECT synth_job_wait(424242);
SELECT synth_job_wait(NULL);
SELECT synth_job_cancel(NULL);
SELECT * FROM synth_job_progress();

-- users read synth.jobs, not the table behind it; a role sees the jobs it
-- submitted and the jobs of the tables it can read (jobs queued by hand:
-- no worker runs here)
CREATE ROLE regress_jobs_reader;
CREATE TABLE jobs_other (x int);
INSERT INTO synth.job_queue (source_relid, source_schema, source_table, method, submitted_by)
VALUES ('jobs_src'::regclass, 'public', 'jobs_src', 'copula', current_user::regrole),
	   ('jobs_other'::regclass, 'public', 'jobs_other', 'copula', 'regress_jobs_reader'::regrole);
SELECT source_table FROM synth.jobs ORDER BY id;
SET ROLE regress_jobs_reader;
SELECT source_table AS own_job FROM synth.jobs ORDER BY id;
SELECT count(*) FROM synth.job_queue;
RESET ROLE;
GRANT SELECT ON jobs_src TO regress_jobs_reader;
SET ROLE regress_jobs_reader;
SELECT source_table AS own_job_and_readable_table FROM synth.jobs ORDER BY id;
RESET ROLE;
REVOKE SELECT ON jobs_src FROM regress_jobs_reader;
DELETE FROM synth.job_queue;
DROP TABLE jobs_other;
DROP ROLE regress_jobs_reader;
DROP TABLE jobs_src;
DROP EXTENSION synth CASCADE;
