"""The dashboard's pages, one module per page: server-rendered HTML that works without JavaScript.

Reviewers get work queues and every action; exporters their own requests, a submission form, uploads and
what is still missing; admins the users; everyone their own password. Every change goes through the same
functions as the HTTP API (`web.routes`), which go through the one request client: no business rule lives
here.
"""

from __future__ import annotations

from fastapi import APIRouter

from web.dashboard.pages import account, login, new_request, queues, request, requests, users

router = APIRouter()
# `new_request` before `request`: /ui/requests/new must not be read as the request whose id is "new".
for page in (login, account, queues, requests, new_request, request, users):
    router.include_router(page.router)
