"""The HTTP service: the API and the dashboard, laid out as an app factory and its parts.

`main.create_app` builds the app; `deps` holds what every route declares in its signature (who calls,
the database, the request client); `routes/` has one module per resource of the API; `dashboard/` the
server-rendered pages, one module per page; `auth` the users, tokens and sessions it keeps in PostgreSQL.
Every change to a request goes through `starter.client`, so no business rule lives here.
"""
