"""Who may call what: every endpoint of the API, by role, over HTTP.

Each cell says what the caller gets: `ok` (the request got past access control: 2xx, or the workflow's
409 / a 422 about the body), 401 (no or bad credentials), 403 (wrong role), 404 (an exporter asking
about another operation's request, which it must not learn exists).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from activities.documents import DocumentStore
from activities.request_list import exporter_operation_of
from domain.state import RequestState
from starter.client import RequestClient
from tests.support.stack import (
    EXPORTER_OPERATION,
    OTHER_EXPORTER_OPERATION,
    ApiStack,
    Person,
    complete_request,
    pdf,
    person,
    request_body,
    wait_for,
)
from web.auth import UserRole

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROLES = ("anonymous", "admin", "reviewer", "exporter", "other_exporter")


@dataclass
class Call:
    method: str
    path: str  # the OpenAPI template, for the coverage check
    url: str
    expect: dict[str, str | int]
    kwargs: dict[str, Any] = field(default_factory=dict)
    # Some calls need a body of the caller's own (an exporter submits for its own operation).
    per_role: dict[str, dict[str, Any]] = field(default_factory=dict)


def everyone(outcome: str | int = "ok") -> dict[str, str | int]:
    return {"anonymous": 401, **{role: outcome for role in ROLES[1:]}}


PEOPLE_OWN = {"anonymous": 401, "admin": 403, "reviewer": "ok", "exporter": "ok", "other_exporter": 404}
REVIEWERS_ONLY = {"anonymous": 401, "admin": 403, "reviewer": "ok", "exporter": 403, "other_exporter": 403}
ADMINS_ONLY = {"anonymous": 401, "admin": "ok", "reviewer": 403, "exporter": 403, "other_exporter": 403}
PEOPLE = {"anonymous": 401, "admin": 403, "reviewer": "ok", "exporter": "ok", "other_exporter": "ok"}


def outcome(status: int) -> str | int:
    return status if status in (401, 403, 404) else "ok"


async def test_every_endpoint_by_role(stack: ApiStack) -> None:
    issued = await complete_request(stack, "access-issued")
    async with stack.client(stack.reviewer) as http:
        await http.post(f"/requests/{issued['id']}/actions/approve", json={})
        state = await wait_for(http, issued["id"], "awaiting_transport_document")
    number = state["certificates"][0]["number"]
    document = state["form"]["documents"][0]["sha256"]
    target = (await complete_request(stack, "access-target"))["id"]
    await person(stack.pool, "leaver", UserRole.REVIEWER)
    await person(stack.pool, "forgetful", UserRole.REVIEWER)
    a, t = f"/requests/{issued['id']}", f"/requests/{target}"
    reference = {"kind": "transport_document_definitive", "file_id": document, "sha256": document}
    upload = {
        "files": [("files", ("a.pdf", pdf("access-upload"), "application/pdf"))],
        "data": {"kind": ["other"]},
    }

    def action(name: str, expect: dict[str, str | int], body: dict[str, Any]) -> Call:
        template = f"/requests/{{request_id}}/actions/{name}"
        return Call("POST", template, f"{t}/actions/{name}", expect, {"json": body})

    own_body = {
        role: {
            "json": request_body(
                operation_id=OTHER_EXPORTER_OPERATION if role == "other_exporter" else EXPORTER_OPERATION
            )
        }
        for role in ROLES
    }
    calls = [
        Call("GET", "/health", "/health", {role: "ok" for role in ROLES}),
        Call("GET", "/health/live", "/health/live", {role: "ok" for role in ROLES}),
        Call("GET", "/health/ready", "/health/ready", {role: "ok" for role in ROLES}),
        Call("GET", "/metrics", "/metrics", {role: "ok" for role in ROLES}),
        Call("GET", "/me", "/me", everyone()),
        Call("POST", "/requests", "/requests", PEOPLE, per_role=own_body),
        Call("GET", "/requests", "/requests", PEOPLE),
        Call("GET", "/requests/{request_id}", a, PEOPLE_OWN),
        Call(
            "GET",
            "/requests/{request_id}/certificates/{nopic}.pdf",
            f"{a}/certificates/{number}.pdf",
            PEOPLE_OWN,
        ),
        Call("GET", "/requests/{request_id}/documents/{sha256}", f"{a}/documents/{document}", PEOPLE_OWN),
        Call("POST", "/requests/{request_id}/documents", f"{t}/documents", PEOPLE_OWN, upload),
        Call(
            "POST",
            "/documents",
            "/documents",
            PEOPLE,
            {"files": {"file": ("b.pdf", pdf("b"), "application/pdf")}},
        ),
        action("approve", REVIEWERS_ONLY, {}),
        action("request-corrections", REVIEWERS_ONLY, {"items": ["invoice"], "message": "please"}),
        action(
            "record-certificate", REVIEWERS_ONLY, {"commodity_index": 0, "number": "123-1000000001-000001"}
        ),
        action("transport-document", PEOPLE_OWN, {"document": reference}),
        action("reject-transport-document", REVIEWERS_ONLY, {"reason": "illegible"}),
        action("update-eta", PEOPLE_OWN, {"eta": "2099-01-01T08:00:00+00:00"}),
        action(
            "record-shipment",
            PEOPLE_OWN,
            {
                "shipped_on": "2099-01-01",
                "quantities": [{"commodity_index": 0, "net_kg": "1"}],
                "transport_document": reference,
            },
        ),
        action("cancel-certificates", REVIEWERS_ONLY, {"reason": "test"}),
        action("confirm-operations", REVIEWERS_ONLY, {"note": "both Certified in OID"}),
        action("return-to-review", REVIEWERS_ONLY, {"reason": "wrong lot"}),
        action("record-cancellation", REVIEWERS_ONLY, {"commodity_index": 0, "note": "done in OID"}),
        action("retry-cancellation", REVIEWERS_ONLY, {"commodity_index": 0}),
        Call("GET", "/certificates", "/certificates", REVIEWERS_ONLY),
        action("resolve-corrections", REVIEWERS_ONLY, {"note": "answered by email"}),
        action("accept-eta-move", REVIEWERS_ONLY, {}),
        action("decline-eta-move", REVIEWERS_ONLY, {"reason": "too far"}),
        action("report-quantities", PEOPLE_OWN, {"quantities": [{"commodity_index": 0, "net_kg": "1"}]}),
        action("correct-request-data", PEOPLE_OWN, {"form": request_body()}),
        action("replace-certificate", REVIEWERS_ONLY, {"commodity_index": 0, "reason": "labels reprinted"}),
        # The two that end the request come last; after them the workflow answers 409, still past access.
        action("refuse", REVIEWERS_ONLY, {"reason": "not compliant"}),
        action("withdraw", PEOPLE_OWN, {}),
        Call("GET", "/users", "/users", ADMINS_ONLY),
        Call(
            "POST",
            "/users",
            "/users",
            ADMINS_ONLY,
            per_role={
                role: {"json": {"username": f"new-{role}", "display_name": "N", "role": "reviewer"}}
                for role in ROLES
            },
        ),
        Call("POST", "/users/{username}/revoke", "/users/leaver/revoke", ADMINS_ONLY),
        Call("POST", "/users/{username}/password", "/users/forgetful/password", ADMINS_ONLY),
        Call("POST", "/users/{username}/token", "/users/forgetful/token", ADMINS_ONLY),
        # Past access control, the body breaks the password rule (422): nobody's password changes here.
        Call(
            "POST",
            "/me/password",
            "/me/password",
            everyone(),
            {"json": {"current_password": "x", "new_password": "y"}},
        ),
    ]
    people: dict[str, Person | None] = {
        "anonymous": None,
        "admin": stack.admin,
        "reviewer": stack.reviewer,
        "exporter": stack.exporter,
        "other_exporter": stack.other_exporter,
    }
    wrong: list[str] = []
    clients = {role: stack.client(person) for role, person in people.items()}
    try:
        for call in calls:
            for role in ROLES:
                kwargs = call.per_role.get(role, call.kwargs)
                answer = await clients[role].request(call.method, call.url, **kwargs)
                got = outcome(answer.status_code)
                if got != call.expect[role] or answer.status_code >= 500:
                    wrong.append(
                        f"{role} {call.method} {call.url}: "
                        f"expected {call.expect[role]}, got {answer.status_code}"
                    )
    finally:
        await asyncio.gather(*(c.aclose() for c in clients.values()))
    assert not wrong, "\n".join(wrong)

    # Every route of the API is in the matrix.
    async with stack.client() as http:
        schema = (await http.get("/openapi.json")).json()
    routes = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    covered = {(c.method, c.path) for c in calls}
    assert routes <= covered, f"not in the access matrix: {sorted(routes - covered)}"


async def test_a_bad_or_revoked_token_is_401(stack: ApiStack) -> None:
    async with httpx.AsyncClient(base_url=stack.url, headers={"Authorization": "Bearer nopic_wrong"}) as http:
        answer = await http.get("/requests")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
    assert answer.headers["www-authenticate"] == "Bearer"

    async with stack.client(stack.admin) as admin:
        created = (
            await admin.post("/users", json={"username": "temp", "display_name": "Temp", "role": "reviewer"})
        ).json()
        token = {"Authorization": f"Bearer {created['token']}"}
        async with httpx.AsyncClient(base_url=stack.url, headers=token) as http:
            assert (await http.get("/requests")).status_code == 200
            assert (await admin.post("/users/temp/revoke")).status_code == 200
            assert (await http.get("/requests")).status_code == 401


async def test_a_session_cookie_needs_the_csrf_header_to_change_anything(stack: ApiStack) -> None:
    async with httpx.AsyncClient(base_url=stack.url, follow_redirects=False) as browser:
        form = await browser.get("/ui/login")
        csrf = form.text.split('name="csrf_token" value="')[1].split('"')[0]
        signed_in = await browser.post(
            "/ui/login",
            data={
                "username": stack.reviewer.username,
                "password": stack.reviewer.password,
                "csrf_token": csrf,
                "next": "/ui",
            },
        )
        assert signed_in.status_code == 303
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert (await browser.get("/requests")).status_code == 200  # reading with the cookie is fine
        refused = await browser.post("/requests", json=request_body())
        assert refused.status_code == 403
        assert "X-CSRF-Token" in refused.json()["error"]["message"]
        forged = await browser.post("/ui/logout", data={"csrf_token": "forged"})
        assert forged.status_code == 403


async def test_login_with_a_wrong_password_or_without_the_form_token_fails(stack: ApiStack) -> None:
    async with httpx.AsyncClient(base_url=stack.url, follow_redirects=False) as browser:
        form = await browser.get("/ui/login")
        csrf = form.text.split('name="csrf_token" value="')[1].split('"')[0]
        wrong = await browser.post(
            "/ui/login", data={"username": "rita", "password": "nope", "csrf_token": csrf}
        )
        assert wrong.status_code == 401
        assert "wrong password" in wrong.text
    async with httpx.AsyncClient(base_url=stack.url, follow_redirects=False) as stranger:
        forged = await stranger.post(
            "/ui/login", data={"username": "rita", "password": stack.reviewer.password, "csrf_token": "x"}
        )
        assert forged.status_code == 403
        assert (await stranger.get("/ui/queues")).status_code == 303  # not signed in: off to the login form


# --- an exporter's access from the read model, without a workflow query --------------------------------


@pytest.fixture
def queried(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The request ids whose whole state the service reads (`RequestClient.state`: for an open request, a
    workflow query), from now until the test ends: the API runs in this process, on this class."""
    calls: list[str] = []
    read = RequestClient.state

    async def counted(self: RequestClient, request_id: str, *, wait: float = 0.0) -> RequestState:
        calls.append(request_id)
        return await read(self, request_id, wait=wait)

    monkeypatch.setattr(RequestClient, "state", counted)
    return calls


def no_such_request(request_id: str) -> dict[str, Any]:
    """The answer to any request the caller may not see: word for word the one for a request never made."""
    message = f"There is no request {request_id!r}."
    return {"error": {"code": "request_not_found", "message": message, "fields": []}}


async def later_eta(http: httpx.AsyncClient, request_id: str) -> dict[str, str]:
    """An `update-eta` body a day past the request's ETA: within the allowance, accepted under review."""
    state = (await http.get(f"/requests/{request_id}")).json()["state"]
    eta = datetime.fromisoformat(state["form"]["shipment"]["eta"])
    return {"eta": (eta + timedelta(days=1)).isoformat()}


def moved_eta(answer: httpx.Response) -> str:
    """The ETA an action's answer shows, written as `later_eta` writes it."""
    return datetime.fromisoformat(answer.json()["form"]["shipment"]["eta"]).isoformat()


async def seen_by_reviewer(stack: ApiStack, request_id: str) -> tuple[int, int, str]:
    """What would show any change: the state's sequence, the audit trail's length, the ETA."""
    async with stack.client(stack.reviewer) as http:
        shown = (await http.get(f"/requests/{request_id}")).json()
    state = shown["state"]
    return state["sequence"], len(shown["audit"]), state["form"]["shipment"]["eta"]


async def test_an_exporters_access_is_read_from_the_read_model_not_the_workflow(
    stack: ApiStack, queried: list[str]
) -> None:
    request_id = (await complete_request(stack, "read-model-access"))["id"]
    unknown = "R20990101-00000000DEADBEEF"
    async with (
        stack.client(stack.reviewer) as reviewer,
        stack.client(stack.exporter) as own,
        stack.client(stack.other_exporter) as other,
    ):
        await wait_for(reviewer, request_id, "in_review")
        body = await later_eta(reviewer, request_id)
        before = await seen_by_reviewer(stack, request_id)

        queried.clear()
        refused = await other.post(f"/requests/{request_id}/actions/update-eta", json=body)
        refused_upload = await other.post(
            f"/requests/{request_id}/documents",
            files=[("files", ("x.pdf", pdf("read-model-other"), "application/pdf"))],
            data={"kind": ["other"]},
        )
        assert (refused.status_code, refused.json()) == (404, no_such_request(request_id))
        assert (refused_upload.status_code, refused_upload.json()) == (404, no_such_request(request_id))
        assert queried == [], "another operation's refusal asked the workflow"
        assert await seen_by_reviewer(stack, request_id) == before
        refused_file = hashlib.sha256(pdf("read-model-other")).hexdigest()
        assert await DocumentStore.from_settings(stack.settings, stack.pool).get(refused_file) is None

        # A request never made has no row: the query says so, with the same answer.
        queried.clear()
        missing = await own.post(f"/requests/{unknown}/actions/update-eta", json=body)
        assert (missing.status_code, missing.json()) == (404, no_such_request(unknown))
        assert queried == [unknown]

        queried.clear()
        moved = await own.post(f"/requests/{request_id}/actions/update-eta", json=body)
        assert moved.status_code == 200, moved.text
        assert moved_eta(moved) == body["eta"]
        uploaded = await own.post(
            f"/requests/{request_id}/documents",
            files=[("files", ("y.pdf", pdf("read-model-own"), "application/pdf"))],
            data={"kind": ["other"]},
        )
        assert uploaded.status_code == 200, uploaded.text
        assert queried == [], "the exporter's own action asked the workflow who may see the request"

        # An action the API checks against the request still reads its state (`_CHECKED`).
        document = moved.json()["form"]["documents"][0]["sha256"]
        reference = {"kind": "transport_document_definitive", "file_id": document, "sha256": document}
        checked = await own.post(
            f"/requests/{request_id}/actions/transport-document", json={"document": reference}
        )
        assert checked.status_code not in (404, 500), checked.text
        assert queried == [request_id]


async def test_a_request_without_its_read_model_row_is_judged_by_its_state(
    stack: ApiStack, queried: list[str]
) -> None:
    request_id = (await complete_request(stack, "read-model-missing"))["id"]
    async with (
        stack.client(stack.reviewer) as reviewer,
        stack.client(stack.exporter) as own,
        stack.client(stack.other_exporter) as other,
    ):
        await wait_for(reviewer, request_id, "in_review")
        body = await later_eta(reviewer, request_id)
        async with stack.pool.acquire() as conn, conn.transaction():
            # As if the row had never been written (the submission's write failed, the workflow's not yet
            # done): its certificates refer to it, so they go first.
            await conn.execute("DELETE FROM certificates WHERE request_id = $1", request_id)
            await conn.execute("DELETE FROM requests WHERE request_id = $1", request_id)

        queried.clear()
        refused = await other.post(f"/requests/{request_id}/actions/update-eta", json=body)
        assert (refused.status_code, refused.json()) == (404, no_such_request(request_id))
        assert queried == [request_id]
        assert await exporter_operation_of(stack.pool, request_id) is None

        queried.clear()
        moved = await own.post(f"/requests/{request_id}/actions/update-eta", json=body)
        assert moved.status_code == 200, moved.text
        assert moved_eta(moved) == body["eta"]
        assert queried == [request_id]
    # The workflow's record wrote the row again.
    assert await exporter_operation_of(stack.pool, request_id) == EXPORTER_OPERATION
