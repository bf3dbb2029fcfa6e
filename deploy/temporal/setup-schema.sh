#!/bin/sh
# Creates Temporal's two databases and brings their schemas up to the version of the pinned admin-tools
# image (the same version as the server image). Safe to run at every start: a database that exists and a
# schema already set up are left as they are; update-schema applies only the versions still missing.
set -eu

sql_tool() {
    temporal-sql-tool --plugin postgres12 --endpoint postgres --port 5432 \
        --user temporal --password "$POSTGRES_TEMPORAL_PASSWORD" "$@"
}

for pair in temporal:temporal temporal_visibility:visibility; do
    database=${pair%%:*}
    schema=/etc/temporal/schema/postgresql/v12/${pair##*:}/versioned
    sql_tool --database "$database" create || echo "database $database exists"
    sql_tool --database "$database" setup-schema -v 0.0 || echo "schema of $database already set up"
    sql_tool --database "$database" update-schema -d "$schema"
done
