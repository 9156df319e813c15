from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Seeding and the demo runner (``seed_demo``, ``rundemo``): installed only where
    ``SIGNOFF_DEMO`` is set (``make demo`` and the test suite), never in production."""

    name = "demo"
    verbose_name = "Demo"
