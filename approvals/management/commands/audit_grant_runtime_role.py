"""Set up the runtime database role of a two-role PostgreSQL deployment.

The owner role (which runs ``migrate``) owns the tables; the web and worker processes
connect as a runtime role that may read and write the application's tables but may not
UPDATE, DELETE or TRUNCATE audit events, and, not owning any table, cannot switch the
append-only triggers off. Run this as the owner after every ``migrate``.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection


class Command(BaseCommand):
    help = "Grant a runtime PostgreSQL role what Signoff needs, and nothing that could rewrite the audit log."

    def add_arguments(self, parser):
        parser.add_argument("role", help="The runtime role (created beforehand with CREATE ROLE … LOGIN).")

    def handle(self, *args, role, **options):
        if connection.vendor != "postgresql":
            raise CommandError("The two-role setup is for PostgreSQL.")
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone() is None:
                raise CommandError(f"There is no database role {role!r}; create it first (CREATE ROLE … LOGIN).")
            quoted = connection.ops.quote_name(role)
            cursor.execute(f"GRANT USAGE ON SCHEMA public TO {quoted}")
            cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}")
            cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}")
            cursor.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON approvals_auditevent FROM {quoted}")
            cursor.execute(f"REVOKE TRUNCATE ON ALL TABLES IN SCHEMA public FROM {quoted}")
        self.stdout.write(f"{role} may use Signoff's tables; audit events are insert-only for it.")
