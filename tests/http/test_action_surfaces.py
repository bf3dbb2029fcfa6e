"""Every action of the one list (`domain.actions`) reaches people the same way: an API route under its slug,
a `nopic` command of the same name, and a form on the dashboard's request page."""

from __future__ import annotations

import pytest
from typer.main import get_command

from domain import messages
from domain.actions import ACTIONS, ActionSpec
from starter.cli import app as cli_app
from tests.support.dirs import REPO
from web.routes.actions import router

ROUTES = {route.path: route for route in router.routes}  # type: ignore[attr-defined]
CLI = get_command(cli_app).commands  # type: ignore[attr-defined]
REQUEST_PAGE = (REPO / "web" / "dashboard" / "templates" / "request.html").read_text()


@pytest.mark.parametrize("spec", ACTIONS, ids=lambda spec: spec.slug)
def test_each_action_has_its_route_its_command_and_its_form(spec: ActionSpec) -> None:
    if spec.message is messages.SubmitDocuments:
        # Files first: the upload route and `nopic upload` store them, then hand the references over.
        assert CLI["upload"].help == spec.summary
        return
    route = ROUTES[f"/requests/{{request_id}}/actions/{spec.slug}"]
    assert route.summary == spec.summary  # type: ignore[attr-defined]
    assert CLI[spec.slug].help == spec.summary
    if not spec.own_route:
        assert f'"{spec.slug}" in actions' in REQUEST_PAGE
