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
