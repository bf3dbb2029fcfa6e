"""Schema migrations: `NNNN_name.sql` files applied in order by `core.db.migrate` (a package so they ship)."""
