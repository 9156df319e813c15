"""Set up the runtime database role of a two-role PostgreSQL deployment.

The owner role (which runs ``migrate``) owns the tables; the web and worker processes
connect as a runtime role that may read and write the application's tables but may not
UPDATE, DELETE or TRUNCATE audit events, and, not owning any table, cannot switch the
append-only triggers off. Run this as the owner after every ``migrate``.

``--worker`` sets up the workers' role: it also may not write decisions or anything that says
who someone is or what they may do (users, groups, memberships, object permissions, API
tokens, authors of requests, workflows and their assignments), so no background process, nor
code that took one over, can
decide a step; and a human step's row refuses to become approved without a decision
(``approvals`` migration 0016), so updating it does not help either.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

# What only the web tier, acting for an authenticated person, writes.
WEB_ONLY_TABLES = (
    "approvals_decision", "approvals_requestauthor", "auth_user", "auth_group", "auth_user_groups",
    "auth_user_user_permissions", "auth_group_permissions", "accounts_apitoken", "accounts_passwordsetbyother",
    "registry_registeredmodeluserobjectpermission", "registry_registeredmodelgroupobjectpermission",
    # Who must approve what: a workflow without human steps would need no decision at all.
    "approvals_workflow", "approvals_workflowrevision", "approvals_workflowassignment",
)  # fmt: skip


class Command(BaseCommand):
    help = "Grant a runtime PostgreSQL role what Signoff needs, and nothing that could rewrite the audit log."

    def add_arguments(self, parser):
        parser.add_argument("role", help="The runtime role (created beforehand with CREATE ROLE … LOGIN).")
        parser.add_argument("--worker", action="store_true", help="The workers' role: no decisions, no identities.")

    def handle(self, *args, role, worker=False, **options):
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
            if worker:
                tables = ", ".join(connection.ops.quote_name(table) for table in WEB_ONLY_TABLES)
                cursor.execute(f"REVOKE INSERT, UPDATE, DELETE ON {tables} FROM {quoted}")
        if worker:
            self.stdout.write(f"{role} may run Signoff's background work; it may not decide or change identities.")
        else:
            self.stdout.write(f"{role} may use Signoff's tables; audit events are insert-only for it.")
