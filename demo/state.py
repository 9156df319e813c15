"""What the demo's runner and pages need to know without loading its training code (scikit-learn
takes seconds to import): the accounts, whether the demo exists, how far its seeding got."""

from pathlib import Path

from django.conf import settings

from registry.models import Team
from registry.roles import DATA_ANALYST, DATA_SCIENTIST, IT_ENGINEER, MANAGER, RISK_OFFICER

DEMO_PASSWORD = "signoff-demo"
TEAM_NAME = "Risk & Growth Analytics"
ACCOUNTS = [
    # username, first, last, role (None: superuser)
    ("dana", "Dana", "Okafor", DATA_SCIENTIST),
    ("mona", "Mona", "Lindqvist", MANAGER),
    ("omar", "Omar", "Haddad", MANAGER),  # agrees to the fraud model's emergency release
    ("quinn", "Quinn", "Harper", DATA_ANALYST),
    ("priya", "Priya", "Nair", DATA_ANALYST),
    ("tomas", "Tomás", "Becker", DATA_ANALYST),  # the high-risk workflow's QA takes 2 of the 3 analysts
    ("ivan", "Ivan", "Petrov", IT_ENGINEER),
    ("rhea", "Rhea", "Castillo", RISK_OFFICER),
    ("admin", "Ada", "Admin", None),
]


def demo_exists() -> bool:
    return Team.objects.filter(name=TEAM_NAME).exists()


def seeding_marker() -> Path:
    """While ``rundemo --seed`` seeds in the background: a file saying how far it got ("5/13"
    versions), which the pages show; gone when the demo is complete."""
    return Path(settings.VAR_DIR) / "demo-seeding"
