"""Workflow definitions: YAML in, validated ``WorkflowDefinition`` out.

A definition is data (see ``approvals/workflows/default.yaml``). ``parse_definition`` refuses
anything it does not understand with a ``DefinitionError`` that names the step, the key and
the line, so a typo such as ``approvers: 'bob'`` is an error at load time, not a workflow that
silently never pauses.
"""

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from django.conf import settings

from approvals.checks import registered_checks

STEP_TYPES = ("checks", "approval", "promotion", "deployment")
HUMAN_STEP_TYPES = ("approval", "deployment")
ON_REJECT = ("return_to_author",)
PROMOTION_STAGES = ("qa",)
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


class DefinitionError(ValueError):
    """An invalid workflow definition; the message says what is wrong and where."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass(frozen=True)
class StepDefinition:
    name: str
    type: str
    title: str
    approvers: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    required_approvals: int = 1
    on_reject: str = "return_to_author"
    to_stage: str = ""
    checks: tuple[dict, ...] = ()

    @property
    def is_human(self) -> bool:
        return self.type in HUMAN_STEP_TYPES

    def as_config(self) -> dict:
        """What a request stores of this step, so later edits of the definition do not touch it."""
        return {
            "approvers": list(self.approvers),
            "users": list(self.users),
            "required_approvals": self.required_approvals,
            "on_reject": self.on_reject,
            "to_stage": self.to_stage,
            "checks": [dict(check) for check in self.checks],
        }


@dataclass(frozen=True)
class WorkflowDefinition:
    name: str
    description: str
    steps: tuple[StepDefinition, ...] = field(default_factory=tuple)
    source: str = ""


def _line_index(text: str) -> dict[tuple, int]:
    """Map a path of keys / indexes in the YAML document to the line it starts on."""
    lines: dict[tuple, int] = {}

    def walk(node, path):
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                lines[path + (key.value,)] = key.start_mark.line + 1
                walk(value, path + (key.value,))
                lines[path + (key.value,)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, path + (index,))

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, ())
    return lines


def parse_definition(text: str) -> WorkflowDefinition:
    """Parse and validate a YAML workflow definition."""
    try:
        data = yaml.safe_load(text)
        lines = _line_index(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise DefinitionError(
            f"not valid YAML: {getattr(error, 'problem', error)}", mark.line + 1 if mark else None
        ) from None

    def fail(message, *path):
        raise DefinitionError(message, lines.get(path) or lines.get(path[:-1]))

    if not isinstance(data, dict):
        raise DefinitionError("the definition must be a mapping with 'name' and 'steps'")
    unknown = set(data) - {"name", "description", "steps"}
    if unknown:
        fail(f"unknown top-level keys: {', '.join(sorted(map(str, unknown)))}", sorted(map(str, unknown))[0])
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        fail("'name' must be a non-empty string", "name")
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        fail("'steps' must be a non-empty list of steps", "steps")

    parsed: list[StepDefinition] = []
    seen: set[str] = set()
    for index, step in enumerate(steps):
        where = ("steps", index)
        if not isinstance(step, dict):
            fail(f"step {index + 1} must be a mapping with 'name' and 'type'", *where)
        step_name = step.get("name")
        label = f"step {index + 1}" + (f" ({step_name})" if isinstance(step_name, str) else "")
        if not isinstance(step_name, str) or not NAME_RE.match(step_name):
            fail(f"{label}: 'name' must be lowercase letters, digits and '_', starting with a letter", *where, "name")
        if step_name in seen:
            fail(f"{label}: the name '{step_name}' is used twice", *where, "name")
        seen.add(step_name)
        step_type = step.get("type")
        if step_type not in STEP_TYPES:
            fail(f"{label}: 'type' must be one of {', '.join(STEP_TYPES)}, not {step_type!r}", *where, "type")
        allowed = {"name", "type", "title"} | {
            "checks": {"checks"},
            "approval": {"approvers", "users", "required_approvals", "on_reject"},
            "deployment": {"approvers", "users", "required_approvals"},
            "promotion": {"to_stage"},
        }[step_type]
        unknown = set(step) - allowed
        if unknown:
            key = sorted(map(str, unknown))[0]
            fail(
                f"{label}: unknown key '{key}' for a {step_type} step (allowed: {', '.join(sorted(allowed))})",
                *where,
                key,
            )
        title = step.get("title", step_name.replace("_", " ").capitalize())
        if not isinstance(title, str):
            fail(f"{label}: 'title' must be a string", *where, "title")
        fields = {"name": step_name, "type": step_type, "title": title}

        if step_type in HUMAN_STEP_TYPES:
            for key in ("approvers", "users"):
                value = step.get(key, [])
                if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                    fail(
                        f"{label}: '{key}' must be a list of names, "
                        f"e.g. {key}: ['{value if isinstance(value, str) else 'manager'}']",
                        *where,
                        key,
                    )
                fields[key] = tuple(value)
            if not fields["approvers"] and not fields["users"]:
                fail(f"{label}: a {step_type} step needs 'approvers' (roles) or 'users'", *where)
            required = step.get("required_approvals", 1)
            if isinstance(required, bool) or not isinstance(required, int) or required < 1:
                fail(
                    f"{label}: 'required_approvals' must be a whole number of at least 1", *where, "required_approvals"
                )
            fields["required_approvals"] = required
            if step_type == "approval":
                on_reject = step.get("on_reject", "return_to_author")
                if on_reject not in ON_REJECT:
                    fail(
                        f"{label}: 'on_reject' must be one of {', '.join(ON_REJECT)}, not {on_reject!r}",
                        *where,
                        "on_reject",
                    )
                fields["on_reject"] = on_reject
        elif step_type == "promotion":
            to_stage = step.get("to_stage")
            if to_stage not in PROMOTION_STAGES:
                fail(
                    f"{label}: 'to_stage' must be one of {', '.join(PROMOTION_STAGES)} "
                    "(production is reached by a deployment step)",
                    *where,
                    "to_stage",
                )
            fields["to_stage"] = to_stage
        else:
            checks = step.get("checks")
            if not isinstance(checks, list) or not checks:
                fail(f"{label}: 'checks' must be a non-empty list", *where, "checks")
            known = registered_checks()
            cleaned = []
            for check_index, check in enumerate(checks):
                check_where = (*where, "checks", check_index)
                if not isinstance(check, dict) or check.get("type") not in known:
                    got = check.get("type") if isinstance(check, dict) else check
                    fail(
                        f"{label}: check {check_index + 1} must have a 'type' among "
                        f"{', '.join(sorted(known))}, not {got!r}",
                        *check_where,
                    )
                config = {k: v for k, v in check.items() if k != "type"}
                problems = known[check["type"]].config_errors(config)
                if problems:
                    fail(f"{label}: check {check_index + 1} ({check['type']}): {'; '.join(problems)}", *check_where)
                cleaned.append(dict(check))
            fields["checks"] = tuple(cleaned)
        parsed.append(StepDefinition(**fields))

    deployments = [i for i, s in enumerate(parsed) if s.type == "deployment"]
    if deployments and deployments != [len(parsed) - 1]:
        fail("a deployment step may appear once, as the last step", "steps", deployments[0])
    description = data.get("description", "")
    if not isinstance(description, str):
        fail("'description' must be a string", "description")
    return WorkflowDefinition(name=name, description=description, steps=tuple(parsed), source=text)


def load_definition(path: Path) -> WorkflowDefinition:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise DefinitionError(f"cannot read workflow file {path}: {error.strerror}") from None
    try:
        return parse_definition(text)
    except DefinitionError as error:
        raise DefinitionError(f"{path}: {error}") from None


@lru_cache(maxsize=1)
def default_definition() -> WorkflowDefinition:
    """The workflow every model follows unless it has its own (a later feature)."""
    return load_definition(settings.SIGNOFF_DEFAULT_WORKFLOW)


def reference_problems(definition: WorkflowDefinition) -> list[str]:
    """Roles and users the definition names that do not exist (a step nobody could decide)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    problems = []
    roles = {step_role for step in definition.steps for step_role in step.approvers}
    users = {user for step in definition.steps for user in step.users}
    known_roles = set(Group.objects.filter(name__in=roles).values_list("name", flat=True))
    known_users = set(
        get_user_model().objects.filter(username__in=users, is_active=True).values_list("username", flat=True)
    )
    for step in definition.steps:
        for role in step.approvers:
            if role not in known_roles:
                problems.append(f"step '{step.name}': there is no role called '{role}'")
        for user in step.users:
            if user not in known_users:
                problems.append(f"step '{step.name}': there is no active user called '{user}'")
    return problems


def definition_for_model(model) -> WorkflowDefinition:
    """The workflow ``model`` follows, refused as a whole when it names unknown roles or users."""
    definition = default_definition()
    problems = reference_problems(definition)
    if problems:
        raise DefinitionError(f"The workflow '{definition.name}' cannot be used: {'; '.join(problems)}.")
    return definition
