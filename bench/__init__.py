"""`make bench`: the service measured on this machine, each figure a ratio or a percentile of one run.

Every benchmark starts the embedded stack itself (`devstack.supervisor`: PostgreSQL, the Temporal dev
server, the OID sandbox, the SMTP sink, the worker and the HTTP service, each its own process as `nopic up`
runs them), drives it over HTTP and through the Temporal client, prints a table and writes JSON to
`bench/results/`.
"""
