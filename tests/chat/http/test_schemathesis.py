"""Schemathesis against a live Parley: every operation the served document (/api/schema/)
names gets generated requests, valid and invalid, with a user's API token, and must
answer each with no 5xx and only what the document allows (status, content type,
body). What it finds is fixed in the code, never excluded here.

The server is started as `make run` starts it, on the test run's database engine: in
the PostgreSQL pass on the test database pytest-django made (so PostgreSQL's own
refusals, a NUL in a string or an id past bigint, are met too), else on a SQLite file
of its own. It holds a few rooms, messages, a thread, a pin, an invite and a webhook,
so that the small ids Hypothesis tries first lead somewhere. Budgets are turned off on
it (429 is documented all the same): a fuzzer spends them in seconds.

Bounded and deterministic: `derandomize`, a few examples per operation, a few
scenarios of a few steps.
"""

import json
import subprocess
import sys
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from django.conf import settings
from django.core.management import call_command
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from chat.http import openapi
from chat.http.conformance import check_response
from tests.support import ROOT, free_port, parley_env, serving, shared_database_url

# In the PostgreSQL pass the server shares the test database, which pytest-django makes
# only for a session with a test marked so; the fixture flushes what the server wrote.
pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 25
SCENARIOS = 30  # sequences along the links Schemathesis infers (a room made, then used…)
STEPS_PER_SCENARIO = 6


@schemathesis.check
def answers_as_the_suite_checks(ctx, response, case) -> None:
    """The suite's own check (chat/http/conformance.py) on every answer, those to
    Schemathesis's probes with an odd Content-Type included, which its conformance
    checks let pass: a status the document lists, JSON, the documented shape."""
    check_response(
        case.method,
        urlsplit(response.request.url).path,
        response.status_code,
        response.headers.get("content-type", [""])[0],
        response.content,
    )


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    answers_as_the_suite_checks,
]
POSTGRES = "django.db.backends.postgresql"

# The data the server holds, made through the services; prints what the test needs.
SEED = """
import json
import uuid
from accounts import tokens
from accounts.models import User
from chat import services

alice, bob, carol = (
    User.objects.create_user(name, password="a-long-api-test-passphrase")
    for name in ("alice", "bob", "carol")
)
lobby, _created = services.create_or_join_room(alice, "lobby")
services.create_or_join_room(bob, "lobby")
staff = services.create_private_room(alice, "staff")
services.add_member(alice, staff.pk, "carol")
direct, _created = services.open_direct(alice, "bob")
first, _new = services.send_message(alice, lobby.pk, "hello **there**", str(uuid.uuid4()))
services.send_message(bob, lobby.pk, "a reply", str(uuid.uuid4()), thread_root=first.pk)
services.send_message(alice, direct.pk, "hi bob", str(uuid.uuid4()))
services.pin_message(alice, lobby.pk, first.pk, on=True)
services.react(bob, first.pk, "👍", on=True)
services.create_invite(alice, staff.pk)
services.create_webhook(alice, lobby.pk, "Build status")
tokens.make_token(alice, name="another")
token, secret = tokens.make_token(alice, name="schemathesis")
print(json.dumps({"token": secret, "token_id": token.pk}))
"""


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class LiveApi(NamedTuple):
    url: str
    headers: dict[str, str]  # what authenticates every request
    token_id: int  # the id of the API token in `headers`


def credentials(seeded: dict) -> dict[str, str]:
    """How the test authenticates, in one place: alice's API token."""
    return {"Authorization": f"Bearer {seeded['token']}"}


def keep_own_token(case, live: LiveApi) -> None:
    """Revoking the token the run authenticates with would make every later request a
    401: that one DELETE goes to the id after it (a 404), every other id as generated."""
    if (
        case.operation.path == "/api/tokens/{token_id}"
        and case.method == "DELETE"
        and str(case.path_parameters.get("token_id")) == str(live.token_id)
    ):
        case.path_parameters["token_id"] = live.token_id + 1


@pytest.fixture(scope="module")
def live_api(request, tmp_path_factory):
    """A seeded Parley on a free port, and how to reach it as alice."""
    workdir = tmp_path_factory.mktemp("api")
    port = free_port()
    on_postgres = settings.DATABASES["default"]["ENGINE"] == POSTGRES
    if on_postgres:
        request.getfixturevalue("django_db_setup")
        database = shared_database_url()
    else:
        database = f"sqlite:///{workdir / 'api.sqlite3'}"
    env = parley_env(
        port,
        drop=("REDIS_URL", "DEBUG", "PARLEY_ORIGINS", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS"),
        DATABASE_URL=database,
        MEDIA_ROOT=str(workdir / "media"),
        UPLOAD_ROOT=str(workdir / "uploads"),
        PARLEY_SEND_RATE="100000,1",
        **{f"PARLEY_LIMIT_{name.upper()}": "0,1" for name in settings.PARLEY_LIMIT_DEFAULTS},
    )
    if not on_postgres:
        manage(env, "migrate", "--noinput")
    try:
        seeded = json.loads(manage(env, "shell", "-c", SEED).splitlines()[-1])
        with serving(name="api", port=port, env=env, log=workdir / "server.log") as server:
            served = requests.get(f"{server.origin}/api/schema/", timeout=10).json()
            assert served == json.loads(json.dumps(openapi.document()))
            yield LiveApi(server.origin, credentials(seeded), seeded["token_id"])
    finally:
        if on_postgres:  # what the server committed goes, as transactional_db's flush does
            with request.getfixturevalue("django_db_blocker").unblock():
                call_command("flush", interactive=False, verbosity=0)


# The document the server serves (the fixture checks that it is this one).
schema = schemathesis.openapi.from_dict(openapi.document())


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_operation_answers_as_documented(case, live_api):
    keep_own_token(case, live_api)
    case.call_and_validate(base_url=live_api.url, headers=live_api.headers, checks=CHECKS)


def test_sequences_of_operations_answer_as_documented(live_api):
    """Stateful: each step uses what an earlier answer gave (a room's id from its
    creation, a message's from a send), so the operations also meet ids that exist."""

    class Workflow(schema.as_state_machine()):
        def before_call(self, case):
            keep_own_token(case, live_api)

        def get_call_kwargs(self, case):
            return {"base_url": live_api.url, "headers": live_api.headers}

        def validate_response(self, response, case, **kwargs):
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Workflow.run(
        settings=hypothesis_settings(
            Workflow.TestCase.settings,
            max_examples=SCENARIOS,
            stateful_step_count=STEPS_PER_SCENARIO,
            derandomize=True,
            deadline=None,
            database=None,
        )
    )
