"""The plug-in interface of automated checks."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from evidence.checks.inputs import CheckInput

_CHECKS: dict[str, type["Check"]] = {}


class TransientCheckError(Exception):
    """The check could not run this time (storage unreachable, ...); the worker retries it."""


@dataclass
class CheckOutcome:
    """What a check concluded: passed or not, a sentence for people, figures for the evidence."""

    passed: bool
    summary: str
    details: dict = field(default_factory=dict)
    log: str = ""


class Check(ABC):
    """Subclass, set ``type`` and ``title``, implement ``config_errors`` and ``run``."""

    type: str = ""
    title: str = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.type:
            _CHECKS[cls.type] = cls

    @classmethod
    def config_errors(cls, config: dict) -> list[str]:
        """Problems with ``config`` (the step entry without ``type``), as sentences; empty if valid."""
        return []

    @classmethod
    def describe(cls, config: dict) -> str:
        return cls.title

    @abstractmethod
    def run(self, given: CheckInput, config: dict) -> CheckOutcome:
        """Check ``given.version`` against ``config``; raise TransientCheckError when it cannot run now."""


def unknown_keys(config: dict, allowed) -> list[str]:
    """The configuration error for keys a check does not know, as a list (empty when none)."""
    unknown = sorted(set(config) - set(allowed))
    return [f"unknown keys: {', '.join(unknown)}"] if unknown else []


def is_text_list(value) -> bool:
    """A YAML list of non-blank strings."""
    return isinstance(value, list) and all(isinstance(item, str) and item.strip() for item in value)


def get_check(check_type: str) -> type[Check]:
    return _CHECKS[check_type]


def registered_checks() -> dict[str, type[Check]]:
    return dict(_CHECKS)
