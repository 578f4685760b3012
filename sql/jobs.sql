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

-- users read synth.jobs, not the table behind it
CREATE ROLE regress_jobs_reader;
SET ROLE regress_jobs_reader;
SELECT count(*) FROM synth.jobs;
SELECT count(*) FROM synth.job_queue;
RESET ROLE;
DROP ROLE regress_jobs_reader;
DROP TABLE jobs_src;
DROP EXTENSION synth CASCADE;
