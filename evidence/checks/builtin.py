"""Built-in checks that need no sandbox: artifact integrity."""

import hashlib

from evidence.checks.base import Check, CheckOutcome, TransientCheckError, is_text_list, unknown_keys
from registry import model_cards


class ArtifactIntegrity(Check):
    """The stored artifact's SHA-256, recomputed, equals the one recorded at upload."""

    type = "artifact_integrity"
    title = "Artifact integrity (SHA-256)"

    @classmethod
    def config_errors(cls, config):
        return unknown_keys(config, ())

    def run(self, given, config):
        expected = given.version.artifact.sha256
        digest = hashlib.sha256()
        try:
            with given.version.artifact.open() as artifact:
                for chunk in artifact.chunks():
                    digest.update(chunk)
        except FileNotFoundError:
            return CheckOutcome(False, "The artifact file is missing from storage.", {"expected": expected})
        except OSError as error:
            raise TransientCheckError(f"could not read the artifact: {error}") from error
        actual = digest.hexdigest()
        details = {"expected": expected, "actual": actual}
        if actual != expected:
            return CheckOutcome(False, "The stored artifact does not match the SHA-256 recorded at upload.", details)
        return CheckOutcome(True, "The stored artifact matches its recorded SHA-256.", details)


DEFAULT_CARD_FIELDS = ("intended_use", "training_data", "evaluation_data", "limitations", "owner", "risk_tier")


class ModelCardComplete(Check):
    """The version's model card fills in the fields the workflow requires (``require``)."""

    type = "model_card"
    title = "Model card"

    @classmethod
    def config_errors(cls, config):
        errors = []
        require = config.get("require", list(DEFAULT_CARD_FIELDS))
        if not is_text_list(require):
            errors.append("'require' must be a list of model card fields, e.g. require: [intended_use, owner]")
        elif unknown := sorted(set(require) - model_cards.KEYS):
            known = ", ".join(sorted(model_cards.KEYS))
            errors.append(f"'require' names unknown fields: {', '.join(unknown)}; known: {known}")
        return errors + unknown_keys(config, {"require"})

    def run(self, given, config):
        required = config.get("require", list(DEFAULT_CARD_FIELDS))
        missing = model_cards.missing_fields(given.version.model_card, required)
        details = {"required": required, "missing": missing}
        if missing:
            names = ", ".join(model_cards.label(key).lower() for key in missing)
            return CheckOutcome(False, f"The model card lacks {names}. Fill it in on the version page.", details)
        return CheckOutcome(True, f"The model card has all {len(required)} required fields.", details)
