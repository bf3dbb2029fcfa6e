#!/bin/sh
# Run once by the postgres image, on the first start with an empty volume: the roles of Temporal and of
# the service, and the service's database. Temporal's two databases (temporal, temporal_visibility) are
# created by the temporal-schema service with temporal-sql-tool, hence CREATEDB for its role.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v temporal_password="$POSTGRES_TEMPORAL_PASSWORD" \
    -v nopic_password="$POSTGRES_NOPIC_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
CREATE ROLE nopic LOGIN PASSWORD :'nopic_password';
CREATE DATABASE nopic OWNER nopic;
SQL
