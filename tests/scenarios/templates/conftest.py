"""Fixtures for the template tests: one migrated database per session, a sandbox, Airflow homes
and api-servers that are always stopped, also when a test fails."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from airflow_gradient.sandbox import Sandbox
from airflow_gradient.sandbox.airflow_home import migrate
from tests.scenarios.templates.harness import AirflowHome, ApiServer
from tests.secrets_scan import leaks, sandbox_secrets


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Airflow metadata database, migrated once and copied by every test."""
    return migrate(tmp_path_factory.mktemp("migrated-home"))


@pytest.fixture
def template_sb() -> Iterator[Sandbox]:
    """A fresh sandbox of this test's own, on the default run behaviour (reads move a run on:
    PENDING, RUNNING, TERMINATED): the secret scan at teardown lists every token it issued, so
    nothing may carry over."""
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def airflow_home(
    tmp_path: Path, migrated_db: Path, template_sb: Sandbox
) -> Iterator[Callable[..., AirflowHome]]:
    """``airflow_home("gradient_fleet.py", ...)``: a home whose dags folder holds those
    templates; every ``airflow dags test`` started in it is stopped at teardown.

    At teardown the whole home (``airflow dags test`` output, task logs, the SQLite database
    with its XComs) is searched for the sandbox's credentials and every token it issued: a
    template run that leaks one fails its test.
    """
    homes: list[AirflowHome] = []

    def make(*templates: str) -> AirflowHome:
        home = AirflowHome.create(tmp_path / f"airflow-{len(homes)}", migrated_db, templates)
        homes.append(home)
        return home

    yield make
    for home in homes:
        home.stop_all()
    found = leaks(sandbox_secrets(template_sb), [home.home for home in homes])
    assert not found, f"credentials leaked: {found}"


@pytest.fixture
def api_server() -> Iterator[Callable[[AirflowHome], ApiServer]]:
    """``api_server(home)``: ``airflow api-server`` launched on that home's database (call
    ``wait_ready()`` before using it), stopped at teardown (its whole process group)."""
    servers: list[ApiServer] = []

    def start(home: AirflowHome) -> ApiServer:
        server = ApiServer(home)
        servers.append(server)
        return server.launch()

    yield start
    for server in servers:
        server.stop()
