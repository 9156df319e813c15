"""A submitted version's model card and description are as immutable as the rest of what it is
(PostgreSQL's trigger now covers them), and SQLite gets the same guard."""

from django.db import migrations

from config.db import IMMUTABLE_VERSION_COLUMNS, postgresql_only, sqlite_only


def _changed(column: str, dialect: str) -> str:
    if dialect == "postgresql":
        cast = "::text" if column in ("metrics", "params", "model_card") else ""
        return f"NEW.{column}{cast} IS DISTINCT FROM OLD.{column}{cast}"
    return f"NEW.{column} IS NOT OLD.{column}"


POSTGRESQL = f"""
CREATE OR REPLACE FUNCTION signoff_version_immutable() RETURNS trigger AS $$
BEGIN
    IF OLD.submitted_at IS NOT NULL AND (
        {" OR ".join(_changed(column, "postgresql") for column in IMMUTABLE_VERSION_COLUMNS)}
    ) THEN
        RAISE EXCEPTION 'model version % is submitted and immutable; only its stage changes', OLD.id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""
SQLITE = f"""
CREATE TRIGGER registry_modelversion_immutable BEFORE UPDATE ON registry_modelversion
WHEN OLD.submitted_at IS NOT NULL AND ({" OR ".join(_changed(column, "sqlite") for column in IMMUTABLE_VERSION_COLUMNS)})
BEGIN SELECT RAISE(ABORT, 'model version is submitted and immutable; only its stage changes'); END
"""


class Migration(migrations.Migration):
    dependencies = [("registry", "0006_modelversion_version_sha256_idx")]
    operations = [
        # The reverse keeps the function: 0003 created it, and its reverse drops it.
        postgresql_only(POSTGRESQL, "SELECT 1"),
        sqlite_only([SQLITE], ["DROP TRIGGER IF EXISTS registry_modelversion_immutable"]),
    ]
