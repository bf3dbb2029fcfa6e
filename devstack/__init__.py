"""The embedded development stack behind `nopic up`: what runs on one machine and never in production.

`supervisor` starts and stops the processes (PostgreSQL, the Temporal dev server, the OID sandbox, the SMTP
sink, the worker, the HTTP service); `oid_sandbox` is a local stand-in for USDA OID speaking the contract
of `activities.oid_contract`; `smtp_sink` keeps every mail as a file.
"""
