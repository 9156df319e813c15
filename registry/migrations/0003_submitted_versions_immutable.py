"""On PostgreSQL, refuse changes to what a submitted version is (artifact, hash, metrics,
parameters, lineage) from any client; only its stage moves, through the services."""

from django.db import migrations

from config.db import postgresql_only

FORWARD = """
CREATE OR REPLACE FUNCTION signoff_version_immutable() RETURNS trigger AS $$
BEGIN
    IF OLD.submitted_at IS NOT NULL AND (
        NEW.artifact IS DISTINCT FROM OLD.artifact
        OR NEW.artifact_sha256 IS DISTINCT FROM OLD.artifact_sha256
        OR NEW.artifact_size IS DISTINCT FROM OLD.artifact_size
        OR NEW.metrics::text IS DISTINCT FROM OLD.metrics::text
        OR NEW.params::text IS DISTINCT FROM OLD.params::text
        OR NEW.dataset_uri IS DISTINCT FROM OLD.dataset_uri
        OR NEW.dataset_version IS DISTINCT FROM OLD.dataset_version
        OR NEW.code_repository IS DISTINCT FROM OLD.code_repository
        OR NEW.code_commit IS DISTINCT FROM OLD.code_commit
        OR NEW.model_id IS DISTINCT FROM OLD.model_id
        OR NEW.number IS DISTINCT FROM OLD.number
        OR NEW.submitted_at IS DISTINCT FROM OLD.submitted_at
    ) THEN
        RAISE EXCEPTION 'model version % is submitted and immutable; only its stage changes', OLD.id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER registry_modelversion_immutable
    BEFORE UPDATE ON registry_modelversion
    FOR EACH ROW EXECUTE FUNCTION signoff_version_immutable();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS registry_modelversion_immutable ON registry_modelversion;
DROP FUNCTION IF EXISTS signoff_version_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("registry", "0002_roles")]
    operations = [postgresql_only(FORWARD, BACKWARD)]
