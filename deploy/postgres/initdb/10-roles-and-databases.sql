-- Runs once, as the postgres superuser, when the data volume is empty
-- (docker-entrypoint-initdb.d). Temporal and the returns service get their own
-- role and databases, so neither can touch the other's tables.
-- The passwords are the stack's development defaults: docker-compose.yml uses the
-- same ones (tests/test_compose.py checks that); change both for a real deployment.

CREATE ROLE temporal LOGIN PASSWORD 'temporal';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;

CREATE ROLE returns LOGIN PASSWORD 'returns';
CREATE DATABASE returns OWNER returns;

-- The worker logs in as returns_worker, a member of returns_app: it may append and read events but
-- never change them (store/migrations/004_app_role.sql grants the rest). The owner `returns` only
-- runs migrations (DATABASE_ADMIN_URL).
CREATE ROLE returns_app NOLOGIN;
CREATE ROLE returns_worker LOGIN PASSWORD 'returns_worker' IN ROLE returns_app;
