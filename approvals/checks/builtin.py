"""Built-in checks that need no sandbox: artifact integrity."""

import hashlib

from approvals.checks.base import Check, CheckOutcome, TransientCheckError


class ArtifactIntegrity(Check):
    """The stored artifact's SHA-256, recomputed, equals the one recorded at upload."""

    type = "artifact_integrity"
    title = "Artifact integrity (SHA-256)"

    @classmethod
    def config_errors(cls, config):
        return [f"unknown keys: {', '.join(sorted(config))}"] if config else []

    def run(self, version, config):
        digest = hashlib.sha256()
        try:
            with version.artifact.open("rb") as artifact:
                for chunk in artifact.chunks():
                    digest.update(chunk)
        except FileNotFoundError:
            return CheckOutcome(
                False, "The artifact file is missing from storage.", {"expected": version.artifact_sha256}
            )
        except OSError as error:
            raise TransientCheckError(f"could not read the artifact: {error}") from error
        actual = digest.hexdigest()
        details = {"expected": version.artifact_sha256, "actual": actual}
        if actual != version.artifact_sha256:
            return CheckOutcome(False, "The stored artifact does not match the SHA-256 recorded at upload.", details)
        return CheckOutcome(True, "The stored artifact matches its recorded SHA-256.", details)
