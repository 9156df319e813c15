"""Workflow definitions: YAML in, validated ``WorkflowDefinition`` out.

A definition is data (see ``approvals/workflows/default.yaml`` and the README's workflow
reference). ``parse_definition`` refuses anything it does not understand with a
``DefinitionError`` that names the step, the key and the line, so a typo such as
``approvers: 'bob'`` is an error when the workflow is saved, not a workflow that silently never
pauses. ``reference_problems`` adds what only the database knows: roles and users that do not
exist, and approvals nobody could ever give.
"""

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import yaml

from approvals import deadlines, deployers, policy
from evidence.checks import registered_checks

STEP_TYPES = ("checks", "approval", "promotion", "deployment", "policy")
HUMAN_STEP_TYPES = ("approval", "deployment")
ON_REJECT = ("return_to_author", "reject", "return_to_step")
PROMOTION_STAGES = ("qa",)
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,49}$")
MAX_SOURCE = 100_000  # characters of YAML
MAX_VALUES = 100_000  # values once aliases are expanded: more than MAX_SOURCE characters hold without them
MAX_STEPS = 50
DEADLINE_KEYS = ("due", "business_days", "remind_before", "escalate_to", "escalate_to_users")
# Keys a step may leave out; left out of the digest when unused, so that adding one to the
# language does not change the digest of definitions that do not use it.
OPTIONAL_KEYS = (*DEADLINE_KEYS, "waivable_by", "assignees", "deployer")


class DefinitionError(ValueError):
    """An invalid workflow definition; the message says what is wrong and where. ``line`` and
    ``problem`` are the first problem; ``problems`` every one found, as (line, problem) pairs in
    the document's order (each step is checked even when an earlier one is wrong)."""

    def __init__(self, message: str, line: int | None = None, *, more: tuple = ()):
        self.line = line
        self.problem = message
        self.problems = [(line, message), *more]
        super().__init__("\n".join(f"line {at}: {text}" if at else text for at, text in self.problems))

    @classmethod
    def of(cls, errors: list["DefinitionError"]) -> "DefinitionError":
        first, *rest = errors
        return cls(first.problem, first.line, more=tuple(pair for error in rest for pair in error.problems))


@dataclass(frozen=True)
class StepDefinition:
    name: str
    type: str
    title: str
    approvers: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    required_approvals: int = 1
    require: tuple[tuple[str, int], ...] = ()  # per-role minimums: (role, n)
    quorum: str = ""  # "all": every eligible person approves
    on_reject: str = "return_to_author"
    return_to: str = ""  # on_reject: {return_to_step: NAME}
    allow_deciders_of: tuple[str, ...] = ()  # who decided these steps may decide this one too
    to_stage: str = ""
    checks: tuple[dict, ...] = ()
    group: str = ""  # a parallel group: its steps start together
    when: dict | None = None  # policy
    then: str = ""  # policy: "approve" (the next human step) or "skip"
    target: str = ""  # policy: the human step it approves or skips
    due: str = ""  # human steps: "36h", "2d": the deadline, counted from the step's start
    business_days: bool = False  # "2d" counts Monday to Friday only
    remind_before: str = ""  # the reminder this long before the deadline (default: at three quarters)
    escalate_to: tuple[str, ...] = ()  # roles told when the deadline passes
    escalate_to_users: tuple[str, ...] = ()  # people told when the deadline passes
    waivable_by: tuple[str, ...] = ()  # checks steps: the roles that may waive a failed check
    assignees: tuple[str, ...] = ()  # human steps: who holds the step when it starts (the first who may decide it)
    deployer: dict | None = None  # deployment steps: approvals.deployers (None: Signoff's stage only)

    @property
    def is_human(self) -> bool:
        return self.type in HUMAN_STEP_TYPES

    def as_config(self) -> dict:
        """What a request stores of this step, so later edits of the definition do not touch it."""
        return {
            "approvers": list(self.approvers),
            "users": list(self.users),
            "required_approvals": self.required_approvals,
            "require": dict(self.require),
            "quorum": self.quorum,
            "on_reject": self.on_reject,
            "return_to": self.return_to,
            "allow_deciders_of": list(self.allow_deciders_of),
            "to_stage": self.to_stage,
            "checks": [dict(check) for check in self.checks],
            "when": self.when,
            "then": self.then,
            "target": self.target,
            "due": self.due,
            "business_days": self.business_days,
            "remind_before": self.remind_before,
            "escalate_to": list(self.escalate_to),
            "escalate_to_users": list(self.escalate_to_users),
            "waivable_by": list(self.waivable_by),
            "assignees": list(self.assignees),
            "deployer": self.deployer,
        }


@dataclass(frozen=True)
class BreakGlass:
    """Who may release an urgent fix past the waiting human steps (``break_glass:``), who must
    agree, and the retrospective review that follows. Left out, the defaults hold: an IT engineer
    asks, a manager agrees, managers review it within two days. ``break_glass: false`` turns it off."""

    by: tuple[str, ...] = ("IT engineer",)
    second: tuple[str, ...] = ("manager",)
    retrospective_by: tuple[str, ...] = ("manager",)
    retrospective_due: str = "2d"
    escalate_to: tuple[str, ...] = ()  # roles told when the retrospective is overdue
    escalate_to_users: tuple[str, ...] = ()
    enabled: bool = True


BREAK_GLASS_KEYS = ("by", "second", "retrospective_by", "retrospective_due", "escalate_to", "escalate_to_users")


@dataclass(frozen=True)
class WorkflowDefinition:
    name: str
    description: str
    steps: tuple[StepDefinition, ...] = field(default_factory=tuple)
    source: str = ""
    break_glass: BreakGlass = BreakGlass()
    break_glass_given: bool = False  # the text says ``break_glass:`` (else the defaults, outside the digest)

    @property
    def digest(self) -> str:
        """SHA-256 of what the text parses to (canonical JSON): two texts that say the same
        thing share it, whatever their comments and layout."""
        steps = [{k: v for k, v in asdict(s).items() if k not in OPTIONAL_KEYS or v} for s in self.steps]
        parsed = {"name": self.name, "description": self.description, "steps": steps}
        if self.break_glass_given:
            parsed["break_glass"] = asdict(self.break_glass)
        return hashlib.sha256(json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    def step(self, name: str) -> StepDefinition | None:
        return next((s for s in self.steps if s.name == name), None)


def _line_index(root, *, stored: bool = False) -> dict[tuple, int]:
    """Map a path of keys / indexes in the YAML document to the line it starts on.

    Walking the document as it reads once its aliases (``*name``) are expanded, it refuses what
    the parser would otherwise take silently or choke on later: a key given twice in one
    mapping (YAML keeps the last, so one of two settings would vanish), an alias that contains
    itself, and aliases that expand a short text into more than ``MAX_VALUES`` values ("billion
    laughs": every later walk over the definition would take that long). ``stored``: see
    ``parse_definition``."""
    lines: dict[tuple, int] = {}
    walked = 0

    def walk(node, path, inside):
        nonlocal walked
        walked += 1
        if walked > MAX_VALUES:
            raise DefinitionError(f"the definition expands to more than {MAX_VALUES:,} values through its aliases")
        if id(node) in inside:
            raise DefinitionError("an alias refers to a value that contains it", node.start_mark.line + 1)
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            inside, given = inside | {id(node)}, {}
            for key, value in node.value:
                at = key.start_mark.line + 1
                if isinstance(key, yaml.ScalarNode) and not stored:
                    if (key.tag, key.value) in given:
                        raise DefinitionError(
                            f"{_shown(key.value)} is given twice (also on line {given[key.tag, key.value]})", at
                        )
                    given[key.tag, key.value] = at
                walk(value, path + (key.value,), inside)
                lines[path + (key.value,)] = at
        elif isinstance(node, yaml.SequenceNode):
            inside = inside | {id(node)}
            for index, item in enumerate(node.value):
                walk(item, path + (index,), inside)

    if root is not None:
        walk(root, (), frozenset())
    return lines


def _shown(value) -> str:
    """A value as an error message quotes it: at most 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _load_yaml(text: str, *, stored: bool = False):
    if not isinstance(text, str):
        raise DefinitionError("the definition must be text")
    if len(text) > MAX_SOURCE:
        raise DefinitionError(f"the definition is longer than {MAX_SOURCE:,} characters")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        lines = _line_index(root, stored=stored)  # first: it refuses what would make reading the values costly
        data = yaml.safe_load(text)
    except DefinitionError:
        raise
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise DefinitionError(
            f"not valid YAML: {getattr(error, 'problem', None) or error}", mark.line + 1 if mark else None
        ) from None
    except RecursionError:
        raise DefinitionError("the definition is nested too deeply") from None
    except ValueError as error:  # e.g. an integer of more than 4,300 digits
        raise DefinitionError(f"a value cannot be read: {str(error)[:100]}") from None
    return data, lines


class _Parser:
    """One pass over the document; ``fail`` raises with the line of the path it is given."""

    def __init__(self, text: str, *, stored: bool = False):
        self.text = text
        self.data, self.lines = _load_yaml(text, stored=stored)
        self.steps: list[StepDefinition] = []
        self.where: dict[str, tuple] = {}  # step name → its path, for errors found later

    def fail(self, message, *path):
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                raise DefinitionError(message, self.lines[path[:end]])
        raise DefinitionError(message)

    def parse(self) -> WorkflowDefinition:
        data = self.data
        if not isinstance(data, dict):
            self.fail("the definition must be a mapping with 'name' and 'steps'")
        unknown = sorted(map(str, set(data) - {"name", "description", "steps", "break_glass"}))
        if unknown:
            self.fail(
                f"unknown top-level key '{unknown[0]}' (allowed: break_glass, description, name, steps)", unknown[0]
            )
        name = data.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            self.fail("'name' must be lowercase letters, digits, '-' and '_', starting with a letter", "name")
        description = data.get("description", "")
        if not isinstance(description, str):
            self.fail("'description' must be a string", "description")
        steps = data.get("steps")
        if not isinstance(steps, list) or not steps:
            self.fail("'steps' must be a non-empty list of steps", "steps")
        errors = []
        for index, item in enumerate(steps):
            try:
                if isinstance(item, dict) and "parallel" in item:
                    self.parallel(item, ("steps", index), index)
                else:
                    self.step(item, ("steps", index), index)
            except DefinitionError as error:  # report it, and go on to the next step
                errors.append(error)
        if errors:
            raise DefinitionError.of(errors)
        if len(self.steps) > MAX_STEPS:
            self.fail(f"a workflow has at most {MAX_STEPS} steps", "steps")
        self.cross_checks()
        return WorkflowDefinition(
            name=name, description=description, steps=tuple(self.steps), source=self.text,
            break_glass=self.break_glass(data), break_glass_given="break_glass" in data,
        )  # fmt: skip

    def break_glass(self, data: dict) -> BreakGlass:
        """``break_glass: false``, or a mapping of ``BREAK_GLASS_KEYS`` (each left out: its default)."""
        value = data.get("break_glass", {})
        if value is False:
            return BreakGlass(enabled=False)
        where, label = ("break_glass",), "break_glass"
        if not isinstance(value, dict):
            self.fail("'break_glass' must be false or a mapping of by, second, retrospective_by, "
                      "retrospective_due, escalate_to, escalate_to_users", *where)  # fmt: skip
        unknown = sorted(map(str, set(value) - set(BREAK_GLASS_KEYS)))
        if unknown:
            self.fail(f"break_glass: unknown key '{unknown[0]}' (allowed: {', '.join(BREAK_GLASS_KEYS)})",
                      *where, unknown[0])  # fmt: skip
        fields = {key: self.names(value, key, where, label) for key in BREAK_GLASS_KEYS[:3] if key in value}
        for key, roles in fields.items():
            if not roles:
                self.fail(f"break_glass: '{key}' must name at least one role", *where, key)
        fields.update({key: self.names(value, key, where, label) for key in BREAK_GLASS_KEYS[4:] if key in value})
        if "retrospective_due" in value:
            if deadlines.parse_duration(value["retrospective_due"]) is None:
                self.fail(f"break_glass: 'retrospective_due' must be a duration such as 4h or 2d, not "
                          f"{_shown(value['retrospective_due'])}", *where, "retrospective_due")  # fmt: skip
            fields["retrospective_due"] = value["retrospective_due"].strip()
        return BreakGlass(**fields)

    def parallel(self, item: dict, where: tuple, index: int) -> None:
        unknown = sorted(map(str, set(item) - {"parallel", "name"}))
        if unknown:
            self.fail(f"step {index + 1}: unknown key '{unknown[0]}' for a parallel group (allowed: name, parallel)",
                      *where, unknown[0])  # fmt: skip
        group = item.get("name", f"parallel_{index + 1}")
        if not isinstance(group, str) or not NAME_RE.match(group):
            self.fail(f"step {index + 1}: a parallel group's 'name' must be lowercase letters, digits and '_'",
                      *where, "name")  # fmt: skip
        members = item["parallel"]
        if not isinstance(members, list) or len(members) < 2:
            self.fail(f"step {index + 1}: 'parallel' must list two or more approval steps", *where, "parallel")
        for member_index, member in enumerate(members):
            self.step(member, (*where, "parallel", member_index), index, group=group)
            added = self.steps[-1]
            if added.type != "approval":
                message = (
                    f"parallel group '{group}': only approval steps run in parallel, not '{added.name}' ({added.type})"
                )
                self.fail(message, *where, "parallel", member_index)

    def step(self, step, where: tuple, index: int, group: str = "") -> None:
        if not isinstance(step, dict):
            self.fail(f"step {index + 1} must be a mapping with 'name' and 'type'", *where)
        step_name = step.get("name")
        label = f"step {index + 1}" + (f" ({step_name})" if isinstance(step_name, str) else "")
        if not isinstance(step_name, str) or not NAME_RE.match(step_name):
            self.fail(f"{label}: 'name' must be lowercase letters, digits and '_', starting with a letter",
                      *where, "name")  # fmt: skip
        if step_name in self.where or step_name == group:
            self.fail(f"{label}: the name '{step_name}' is used twice", *where, "name")
        self.where[step_name] = where
        step_type = step.get("type")
        if step_type not in STEP_TYPES:
            self.fail(f"{label}: 'type' must be one of {', '.join(STEP_TYPES)}, not {step_type!r}", *where, "type")
        allowed = {"name", "type", "title"} | {
            "checks": {"checks", "waivable_by"},
            "approval": {"approvers", "users", "required_approvals", "require", "quorum", "on_reject",
                         "allow_deciders_of", "assignees", *DEADLINE_KEYS},
            "deployment": {"approvers", "users", "required_approvals", "allow_deciders_of", "assignees", "deployer",
                           *DEADLINE_KEYS},
            "promotion": {"to_stage"},
            "policy": {"when", "then"},
        }[step_type]  # fmt: skip
        unknown = sorted(map(str, set(step) - allowed))
        if unknown:
            allowed_keys = ", ".join(sorted(allowed))
            self.fail(
                f"{label}: unknown key '{unknown[0]}' for a {step_type} step (allowed: {allowed_keys})",
                *where,
                unknown[0],
            )
        title = step.get("title", step_name.replace("_", " ").capitalize())
        if not isinstance(title, str) or not title.strip() or len(title) > 200:
            self.fail(f"{label}: 'title' must be a string of at most 200 characters", *where, "title")
        fields = {"name": step_name, "type": step_type, "title": title, "group": group}
        if step_type in HUMAN_STEP_TYPES:
            fields.update(self.human(step, where, label, step_type))
        elif step_type == "promotion":
            to_stage = step.get("to_stage")
            if to_stage not in PROMOTION_STAGES:
                self.fail(f"{label}: 'to_stage' must be one of {', '.join(PROMOTION_STAGES)} "
                          "(production is reached by a deployment step)", *where, "to_stage")  # fmt: skip
            fields["to_stage"] = to_stage
        elif step_type == "policy":
            fields.update(self.policy(step, where, label))
        else:
            fields["checks"] = self.checks(step, where, label)
            fields["waivable_by"] = self.names(step, "waivable_by", where, label)
        if step_type == "deployment" and "deployer" in step:
            try:
                fields["deployer"] = deployers.parse(step["deployer"])
            except ValueError as error:
                self.fail(f"{label}: deployer: {error}", *where, "deployer")
        self.steps.append(StepDefinition(**fields))

    def names(self, step, key, where, label) -> tuple[str, ...]:
        value = step.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() and len(v) <= 150 for v in value):
            example = value if isinstance(value, str) else "manager"
            self.fail(f"{label}: '{key}' must be a list of names, e.g. {key}: ['{example}']", *where, key)
        if len(set(value)) != len(value):
            self.fail(f"{label}: '{key}' names someone twice", *where, key)
        return tuple(value)

    def count(self, value, what, where, label, key) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
            self.fail(f"{label}: {what} must be a whole number from 1 to 1000", *where, key)
        return value

    def human(self, step, where, label, step_type) -> dict:
        fields = {
            "approvers": self.names(step, "approvers", where, label),
            "users": self.names(step, "users", where, label),
        }
        if not fields["approvers"] and not fields["users"]:
            self.fail(f"{label}: a {step_type} step needs 'approvers' (roles) or 'users'", *where)
        fields["allow_deciders_of"] = self.names(step, "allow_deciders_of", where, label)
        fields["assignees"] = self.names(step, "assignees", where, label)
        require = step.get("require", {})
        if not isinstance(require, dict):
            self.fail(f"{label}: 'require' must map roles to a number of approvals, e.g. require: {{manager: 1}}",
                      *where, "require")  # fmt: skip
        minimums = []
        for role, needed in require.items():
            if role not in fields["approvers"]:
                self.fail(
                    f"{label}: 'require' names '{role}', which is not among its approvers", *where, "require", role
                )
            minimums.append((role, self.count(needed, f"'require: {role}'", (*where, "require"), label, role)))
        fields["require"] = tuple(minimums)
        at_least = max(1, sum(n for _, n in minimums))
        quorum = step.get("quorum", "")
        if quorum not in ("", "all"):
            self.fail(f"{label}: 'quorum' can only be 'all' (every eligible person approves)", *where, "quorum")
        if quorum and "required_approvals" in step:
            self.fail(f"{label}: give 'quorum: all' or 'required_approvals', not both", *where, "quorum")
        fields["quorum"] = quorum
        required = step.get("required_approvals", at_least)
        fields["required_approvals"] = self.count(required, "'required_approvals'", where, label, "required_approvals")
        if required < at_least:
            self.fail(f"{label}: 'required_approvals' ({required}) is less than the {at_least} that 'require' asks for",
                      *where, "required_approvals")  # fmt: skip
        fields.update(self.deadline(step, where, label))
        if step_type == "approval":
            on_reject = step.get("on_reject", "return_to_author")
            if isinstance(on_reject, dict) and list(on_reject) == ["return_to_step"]:
                target = on_reject["return_to_step"]
                if not isinstance(target, str):
                    self.fail(f"{label}: 'return_to_step' must name an earlier approval step", *where, "on_reject")
                fields["on_reject"], fields["return_to"] = "return_to_step", target
            elif on_reject in ("return_to_author", "reject"):
                fields["on_reject"] = on_reject
            else:
                self.fail(f"{label}: 'on_reject' must be one of return_to_author, reject or "
                          f"{{return_to_step: NAME}}, not {on_reject!r}", *where, "on_reject")  # fmt: skip
        return fields

    def deadline(self, step, where, label) -> dict:
        """``due`` and what hangs on it: business days, the reminder, who is told when it passes."""
        if "due" not in step:
            extra = sorted(set(step) & set(DEADLINE_KEYS))
            if extra:
                self.fail(f"{label}: '{extra[0]}' needs 'due' (the deadline, e.g. due: 2d)", *where, extra[0])
            return {}
        due = deadlines.parse_duration(step["due"])
        if due is None:
            self.fail(f"{label}: 'due' must be a duration such as 4h or 2d (at most {deadlines.MAX_HOURS} hours or "
                      f"{deadlines.MAX_DAYS} days), not {_shown(step['due'])}", *where, "due")  # fmt: skip
        fields = {"due": step["due"].strip(), "business_days": step.get("business_days", False)}
        if not isinstance(fields["business_days"], bool):
            self.fail(f"{label}: 'business_days' must be true or false", *where, "business_days")
        if fields["business_days"] and due[1] != "d":
            self.fail(f"{label}: 'business_days' applies to a deadline in days (due: 2d)", *where, "business_days")
        if "remind_before" in step:
            before = deadlines.parse_duration(step["remind_before"])
            if before is None or deadlines.hours(before) >= deadlines.hours(due):
                self.fail(f"{label}: 'remind_before' must be a duration shorter than 'due' ({fields['due']}), "
                          f"such as 4h, not {_shown(step['remind_before'])}", *where, "remind_before")  # fmt: skip
            fields["remind_before"] = step["remind_before"].strip()
        fields["escalate_to"] = self.names(step, "escalate_to", where, label)
        fields["escalate_to_users"] = self.names(step, "escalate_to_users", where, label)
        return fields

    def policy(self, step, where, label) -> dict:
        if "when" not in step:
            self.fail(f"{label}: a policy step needs 'when' (the condition)", *where)
        problems = policy.condition_problems(step["when"])
        if problems:
            path, message = problems[0]
            self.fail(f"{label}: 'when': {message}", *where, "when", *path)
        then = step.get("then", "approve")
        if then == "approve":
            return {"when": step["when"], "then": "approve"}
        if isinstance(then, dict) and list(then) == ["skip"] and isinstance(then["skip"], str):
            return {"when": step["when"], "then": "skip", "target": then["skip"]}
        self.fail(f"{label}: 'then' must be 'approve' (the next approval step) or {{skip: STEP}}", *where, "then")

    def checks(self, step, where, label) -> tuple[dict, ...]:
        checks = step.get("checks")
        if not isinstance(checks, list) or not checks:
            self.fail(f"{label}: 'checks' must be a non-empty list", *where, "checks")
        known = registered_checks()
        cleaned = []
        for check_index, check in enumerate(checks):
            check_where = (*where, "checks", check_index)
            if not isinstance(check, dict) or check.get("type") not in known:
                got = check.get("type") if isinstance(check, dict) else check
                self.fail(f"{label}: check {check_index + 1} must have a 'type' among {', '.join(sorted(known))}, "
                          f"not {got!r}", *check_where)  # fmt: skip
            config = {k: v for k, v in check.items() if k != "type"}
            problems = known[check["type"]].config_errors(config)
            if problems:
                self.fail(f"{label}: check {check_index + 1} ({check['type']}): {'; '.join(problems)}", *check_where)
            cleaned.append(dict(check))
        return tuple(cleaned)

    def cross_checks(self) -> None:
        """What one step says about others: deployment last, return targets, policy targets."""
        steps = self.steps
        positions = {s.name: i for i, s in enumerate(steps)}
        deployments = [i for i, s in enumerate(steps) if s.type == "deployment"]
        if deployments and deployments != [len(steps) - 1]:
            self.fail("a deployment step may appear once, as the last step", *self.where[steps[deployments[0]].name])
        checked = set()
        for i, s in enumerate(steps):
            where = self.where[s.name]
            if s.type == "checks":
                checked |= {check["type"] for check in s.checks}
            if s.return_to:
                target = positions.get(s.return_to)
                if (
                    target is None
                    or target >= i
                    or steps[target].type != "approval"
                    or (s.group and steps[target].group == s.group)
                ):
                    self.fail(f"step '{s.name}': 'return_to_step' must name an earlier approval step outside its "
                              f"parallel group, not '{s.return_to}'", *where, "on_reject")  # fmt: skip
            for earlier in s.allow_deciders_of:
                if earlier not in positions or positions[earlier] >= i or not steps[positions[earlier]].is_human:
                    self.fail(f"step '{s.name}': 'allow_deciders_of' must name earlier human steps, not '{earlier}'",
                              *where, "allow_deciders_of")  # fmt: skip
            if s.type == "policy":
                for check_type in policy.checks_named(s.when):
                    if check_type not in checked:
                        self.fail(f"step '{s.name}': the condition reads the check '{check_type}', which no earlier "
                                  "checks step runs", *where, "when")  # fmt: skip
                if s.then == "approve":
                    following = next((t for t in steps[i + 1 :] if t.is_human), None)
                    if following is None or following.type != "approval" or following.group:
                        self.fail(f"step '{s.name}': 'then: approve' approves the next approval step, and there is "
                                  "none outside a parallel group after it", *where, "then")  # fmt: skip
                    steps[i] = replace(s, target=following.name)
                else:
                    target = positions.get(s.target)
                    if target is None or target <= i or steps[target].type != "approval":
                        self.fail(f"step '{s.name}': 'skip' must name a later approval step, not '{s.target}'",
                                  *where, "then")  # fmt: skip


def parse_definition(text: str, *, stored: bool = False) -> WorkflowDefinition:
    """Parse and validate a YAML workflow definition.

    ``stored``: the text of a revision saved earlier, read as it was accepted then. A key given
    twice, refused in new text since, keeps YAML's reading there (the last one counts), so a
    request that pinned such a revision goes on under it."""
    return _Parser(text, stored=stored).parse()


def load_definition(path: Path) -> WorkflowDefinition:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DefinitionError(f"cannot read workflow file {path}: {getattr(error, 'strerror', error)}") from None
    try:
        return parse_definition(text)
    except DefinitionError as error:
        raise DefinitionError(f"{path}: {error}") from None


def reference_problems(definition: WorkflowDefinition, *, count_people: bool = False) -> list[str]:
    """What the database says is wrong: roles and users the definition names that do not exist,
    and, with ``count_people`` (an administrator saving it), steps that fewer people could ever
    decide than they need (a step nobody could finish)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db.models import Q

    from registry.models import TeamRole

    User = get_user_model()
    problems = []
    glass = definition.break_glass
    glass_roles = (*glass.by, *glass.second, *glass.retrospective_by, *glass.escalate_to) if glass.enabled else ()
    roles = {role for step in definition.steps for role in (*step.approvers, *step.escalate_to, *step.waivable_by)}
    roles |= set(glass_roles)
    users = {user for step in definition.steps for user in (*step.users, *step.escalate_to_users, *step.assignees)}
    users |= set(glass.escalate_to_users if glass.enabled else ())
    known_roles = set(Group.objects.filter(name__in=roles).values_list("name", flat=True))
    known_users = set(User.objects.filter(username__in=users, is_active=True).values_list("username", flat=True))
    if definition.break_glass_given:
        problems += [f"break_glass: there is no role called '{r}'" for r in dict.fromkeys(glass_roles)
                     if r not in known_roles]  # fmt: skip
        problems += [f"break_glass: there is no active user called '{u}'" for u in glass.escalate_to_users
                     if u not in known_users]  # fmt: skip
    for step in definition.steps:
        problems += [
            f"step '{step.name}': there is no role called '{r}'" for r in step.waivable_by if r not in known_roles
        ]
        if not step.is_human:
            continue
        missing = [
            *(f"there is no role called '{r}'" for r in (*step.approvers, *step.escalate_to) if r not in known_roles),
            *(f"there is no active user called '{u}'" for u in (*step.users, *step.escalate_to_users, *step.assignees)
              if u not in known_users),
        ]  # fmt: skip
        problems += [f"step '{step.name}': {problem}" for problem in missing]
        if missing or not count_people:
            continue
        # a role held within one team counts: the workflow may serve that team's models
        within = TeamRole.objects.filter(role__name__in=step.approvers).values("user_id")
        people = User.objects.filter(is_active=True).filter(
            Q(groups__name__in=step.approvers) | Q(username__in=step.users) | Q(pk__in=within)
        )
        could = people.distinct().count()
        if could < step.required_approvals:
            problems.append(
                f"step '{step.name}': needs {step.required_approvals} approvals but only {could} "
                f"{'person holds' if could == 1 else 'people hold'} its roles or {'is' if could == 1 else 'are'} named"
            )
        for role, needed in step.require:
            within = TeamRole.objects.filter(role__name=role).values("user_id")
            holders = User.objects.filter(Q(groups__name=role) | Q(pk__in=within), is_active=True).distinct().count()
            if holders < needed:
                problems.append(f"step '{step.name}': requires {needed} approvals by {role} but only {holders} hold it")
    return problems
