"""Sign-in and credentials over HTTP, as an attacker and as the people themselves would use them."""

from __future__ import annotations

import httpx
import pytest

from tests.support.stack import ApiStack, person
from web.auth import UserRole

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def login(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    form = await http.get("/ui/login")
    data = {"csrf_token": form.cookies["nopic_login_csrf"], "username": username, "password": password}
    return await http.post("/ui/login", data=data)


async def test_thirty_wrong_passwords_in_a_row_are_throttled_and_say_how_long_to_wait(
    stack: ApiStack,
) -> None:
    victim = await person(stack.pool, "victim", UserRole.REVIEWER)
    statuses = []
    async with stack.client() as http:
        for attempt in range(30):
            answer = await login(http, "victim", f"guess-{attempt}")
            statuses.append(answer.status_code)
        last = answer
        right = await login(http, "victim", victim.password)
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429] * 25, statuses
    assert "Too many failed sign-ins for this username: try again in " in last.text
    assert int(last.headers["Retry-After"]) > 0
    assert right.status_code == 429, "while it waits, even the right password is not looked at"
    await stack.pool.execute("DELETE FROM sign_in_failures")  # the other tests sign in from this address


async def test_people_change_their_password_and_an_admin_resets_it_and_issues_a_new_token(
    stack: ApiStack,
) -> None:
    una = await person(stack.pool, "una", UserRole.REVIEWER)
    async with stack.client(una) as http:
        wrong = await http.post("/me/password", json={"current_password": "no", "new_password": "x" * 12})
        changed = await http.post(
            "/me/password", json={"current_password": una.password, "new_password": "una's own secret"}
        )
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "wrong_password")
    assert changed.status_code == 200, changed.text
    async with stack.client() as http:
        assert (await login(http, "una", una.password)).status_code == 401
        assert (await login(http, "una", "una's own secret")).status_code == 303

    async with stack.client(stack.admin) as admin:
        reset = (await admin.post("/users/una/password")).json()
        rotated = (await admin.post("/users/una/token")).json()
        missing = await admin.post("/users/nobody/token")
    assert missing.status_code == 404
    async with stack.client() as http:
        assert (await login(http, "una", "una's own secret")).status_code == 401
        assert (await login(http, "una", reset["password"])).status_code == 303
    async with stack.client(una) as old, stack.client() as new:
        assert (await old.get("/me")).status_code == 401, "the earlier token stopped working"
        new.headers["Authorization"] = f"Bearer {rotated['token']}"
        assert (await new.get("/me")).json()["username"] == "una"
    await stack.pool.execute("DELETE FROM sign_in_failures")


async def test_an_expired_token_is_refused_with_what_to_do(stack: ApiStack) -> None:
    tim = await person(stack.pool, "tim", UserRole.REVIEWER)
    await stack.pool.execute(
        "UPDATE api_tokens SET expires_at = now() - interval '1 minute' "
        "WHERE user_id = (SELECT user_id FROM users WHERE username = 'tim')"
    )
    async with stack.client(tim) as http:
        answer = await http.get("/me")
    assert answer.status_code == 401
    assert "expired" in answer.json()["error"]["message"]
    assert "ask an admin for a new one" in answer.json()["error"]["message"]
