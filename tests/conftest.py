"""Personas and helpers shared by the whole suite.

Team "Risk" owns the models under test: ``dana`` (data scientist), ``mona`` (manager),
``quinn`` (data analyst), ``ivan`` (IT engineer), plus ``mike`` (a second manager).
Team "Growth" has the same four roles (``gina``, ``gary``, ``gail``, ``gus``) and must not see
Risk's models. ``nora`` belongs to Risk with no role at all.
"""

from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connections
from rest_framework.test import APIClient

from accounts.models import Scope
from accounts.services import api_token_create
from approvals import services
from config.celery import app as celery_app
from registry.roles import ALL_ROLES, DATA_ANALYST, DATA_SCIENTIST, IT_ENGINEER, MANAGER
from tests import factories, receivers


@pytest.fixture(scope="session", autouse=True)
def flush_past_the_audit_triggers():
    """Transactional tests empty every table between tests with TRUNCATE, which the audit log's
    trigger refuses. The flush runs the way a database superuser would (triggers off for that
    transaction only); the application's own connections never do."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        return original(self, ["SET LOCAL session_replication_role = replica", *sql_list])

    DatabaseOperations.execute_sql_flush = execute_sql_flush
    from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper

    from config.db import SQLITE_AUDIT_GUARDS

    SQLiteOperations = SQLiteWrapper.ops_class
    sqlite_original = SQLiteOperations.execute_sql_flush

    def sqlite_flush(self, sql_list):
        # SQLite cannot switch triggers off: drop the audit log's guards for the flush, then
        # put them back exactly as the migration made them.
        drops = [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_AUDIT_GUARDS]
        return sqlite_original(self, [*drops, *sql_list, *SQLITE_AUDIT_GUARDS.values()])

    SQLiteOperations.execute_sql_flush = sqlite_flush
    yield
    DatabaseOperations.execute_sql_flush = original
    SQLiteOperations.execute_sql_flush = sqlite_original


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test starts with an empty cache: API throttles count requests per user id, and on
    SQLite, where a rolled-back test gives its ids back, the next test's people would inherit
    them (the suite on SQLite met "429 Too Many Requests" after a thousand requests)."""
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Hashing a dozen personas' passwords with PBKDF2 would dominate the suite's time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def people(db):
    for role in ALL_ROLES:  # transactional tests flush the groups the migration created
        Group.objects.get_or_create(name=role)
    risk = factories.make_team("Risk")
    growth = factories.make_team("Growth")
    return SimpleNamespace(
        risk=risk,
        growth=growth,
        dana=factories.make_user("dana", DATA_SCIENTIST, team=risk),
        mona=factories.make_user("mona", MANAGER, team=risk),
        mike=factories.make_user("mike", MANAGER, team=risk),
        quinn=factories.make_user("quinn", DATA_ANALYST, team=risk),
        ivan=factories.make_user("ivan", IT_ENGINEER, team=risk),
        nora=factories.make_user("nora", team=risk),
        gina=factories.make_user("gina", DATA_SCIENTIST, team=growth),
        gary=factories.make_user("gary", MANAGER, team=growth),
        gail=factories.make_user("gail", DATA_ANALYST, team=growth),
        gus=factories.make_user("gus", IT_ENGINEER, team=growth),
    )


@pytest.fixture
def risk_model(people):
    return factories.make_model(team=people.risk, by=people.dana, name="credit-risk")


@pytest.fixture
def growth_model(people):
    return factories.make_model(team=people.growth, by=people.gina, name="churn")


@pytest.fixture
def background(django_capture_on_commit_callbacks):
    """``with background(): ...`` runs what services hand to the worker inline, right after commit.

    For unit tests inside a test transaction. Integration tests use a real worker process
    instead (tests/integration).
    """
    celery_app.conf.task_always_eager = True
    yield lambda: django_capture_on_commit_callbacks(execute=True)
    celery_app.conf.task_always_eager = False


@pytest.fixture
def eager_tasks():
    """Tasks enqueued on commit run in-process; pair with a transactional database."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def api():
    """``api(user)``: an API client authenticated with a fresh token of the user's."""

    def client_for(user=None):
        client = APIClient()
        if user is not None:
            # Every scope: these tests are about roles; tests/security/test_tokens.py about scopes.
            _, key = api_token_create(user=user, name="tests", scopes=list(Scope.values))
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return client_for


@pytest.fixture
def submit(background):
    """``submit(version, by)``: submit and let the checks run; returns the request, refreshed."""

    def _submit(version, by):
        with background():
            request = services.promotion_request_submit(version=version, actor=by)
        request.refresh_from_db()
        return request

    return _submit


@pytest.fixture
def awaiting_manager(people, risk_model, submit):
    """A request of credit-risk v1 (by dana) waiting for the manager."""
    return submit(factories.make_version(model=risk_model, by=people.dana), people.dana)


@pytest.fixture
def browser():
    """Debian's Chromium, headless, through Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM_ARGS
    from tests.services import CHROMIUM

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    page = browser.new_page(base_url=live_server.url, accept_downloads=True)
    page.set_default_timeout(15_000)
    # A person confirms what the page asks (Deploy, Reject, rollback): the questions are kept in
    # ``page.confirmations``; a test sets ``page.dismiss_dialogs`` to answer "Cancel" instead.
    page.confirmations, page.dismiss_dialogs = [], False

    def answer(dialog):
        page.confirmations.append(dialog.message)
        dialog.dismiss() if page.dismiss_dialogs else dialog.accept()

    page.on("dialog", answer)
    yield page
    page.close()
    # While Playwright's event loop runs, Django keeps this test's database connection in a
    # separate context; close it here or it outlives the test database.
    connections.close_all()


BASIC_WORKFLOW = Path(__file__).parent / "workflows" / "basic.yaml"
SHIPPED_WORKFLOW = Path(__file__).parents[1] / "approvals" / "workflows" / "default.yaml"


def install_workflow(text: str, *, default: bool = True, model=None):
    """Save ``text`` as a revision of the workflow it names; make it the default, or ``model``'s."""
    from approvals.definitions import parse_definition
    from approvals.models import Workflow
    from approvals.revisions import workflow_assign, workflow_revise, workflow_set_default

    workflow_revise(source=text, actor=None, note="tests")
    workflow = Workflow.objects.get(name=parse_definition(text).name)
    if model is not None:
        workflow_assign(model=model, workflow=workflow, actor=None)
    elif default:
        workflow_set_default(workflow=workflow, actor=None)
    return workflow


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database follows the tests' workflow (tests/workflows/basic.yaml) by default;
    ``shipped_workflow`` and ``use_workflow`` change it for one test."""
    with django_db_blocker.unblock():
        install_workflow(BASIC_WORKFLOW.read_text())


@pytest.fixture(autouse=True)
def basic_workflow(settings):
    """Tests of the approval loop run the four roles behind the checks that need no evaluation
    dataset (tests/workflows/basic.yaml): also where a transactional test emptied the tables and
    the default is installed again from ``SIGNOFF_DEFAULT_WORKFLOW``."""
    settings.SIGNOFF_DEFAULT_WORKFLOW = BASIC_WORKFLOW


@pytest.fixture
def shipped_workflow(settings, db):
    """The default workflow Signoff ships (approvals/workflows/default.yaml); for tests with
    database access."""
    settings.SIGNOFF_DEFAULT_WORKFLOW = SHIPPED_WORKFLOW
    for role in ALL_ROLES:  # transactional tests flush the groups the migration created
        Group.objects.get_or_create(name=role)
    install_workflow(SHIPPED_WORKFLOW.read_text())


@pytest.fixture
def use_workflow(request):
    """Make the YAML text the default workflow for this test: ``use_workflow(text)``; with
    ``model=``, that model's workflow instead."""

    def use(text: str, name: str = "", model=None):
        request.getfixturevalue("people")  # the roles and users it names exist
        return install_workflow(text, model=model)

    return use


@pytest.fixture
def receiver(settings):
    settings.SIGNOFF_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    made = []

    def make(*answers):
        made.append(receivers.Receiver(answers))
        return made[-1]

    yield make
    for server in made:
        server.close()
