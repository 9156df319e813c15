"""The demo's people, models and requests, created through the services like real use.

``seed_demo()`` is idempotent: when the demo team exists it does nothing.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from approvals import conversation, emergency, services, waivers
from approvals.delegations import delegation_create
from approvals.engine import deadline_restart
from approvals.models import PromotionRequest, Workflow
from approvals.revisions import workflow_assign, workflow_revise
from demo import training
from demo.state import ACCOUNTS, DEMO_PASSWORD, TEAM_NAME, demo_exists
from evidence.datasets import evaluation_dataset_profile, evaluation_dataset_register
from registry.models import Team
from registry.services import model_version_create, registered_model_create


@dataclass
class DemoVersion:
    estimator: str
    params: dict
    commit: str
    dataset_version: str
    # What happens to the version: None (left in development), or a list of (user, verdict, comment)
    # decisions to make in order after submission; "submit" alone stops after the checks.
    story: list | None = field(default=None)
    # The artifact is replaced by a pickle that would run a shell command when loaded (the
    # pickle scan refuses it; the command, a harmless echo, never runs).
    booby_trapped: bool = False
    # The demo's other failures: metrics reported higher than measured (name → amount added),
    # features left out, labels from a biased history, and a model card left incomplete.
    inflate: dict = field(default_factory=dict)
    without: tuple = ()
    bias: object = None
    card: str = "complete"  # or "incomplete"
    # The version this one fixes (its number): the new request is a resubmission of that one's.
    fixes: int | None = None


def model_card(spec: dict, demo: DemoVersion) -> dict:
    if demo.card == "incomplete":
        return {"intended_use": spec["card"]["intended_use"]}
    return {
        **spec["card"],
        "training_data": f"{spec['dataset']} as of {demo.dataset_version}; 8,000 rows, 25 % held out for the "
        "reported metrics.",
        "evaluation_data": "holdout-2026q4: 2,000 fresh rows never seen in training (Signoff measures on it).",
        "metrics_rationale": spec.get(
            "metrics_rationale", "Accuracy for the overall error rate, ROC AUC for ranking quality across thresholds."
        ),
        "owner": "Risk & Growth Analytics (Dana Okafor)",
    }


# The opcodes of pickle.dumps(obj) for an obj whose __reduce__ returns os.system(COMMAND).
BOOBY_TRAP = b"cposix\nsystem\n(Vecho this would have run when the model was loaded\ntR."


MODELS = [
    {
        "name": "credit-risk",
        "workflow": "high-risk",
        "description": "Probability that a loan applicant defaults within 12 months. Used by the underwriting service.",
        "generator": training.credit_applications,
        "target": "defaulted",
        "dataset": "s3://analytics-lake/credit/applications.parquet",
        "repository": "https://git.example.com/analytics/credit-risk",
        "segment": training.age_band,
        "card": {
            "intended_use": "Rank loan applications by **default risk** for the underwriting service; a person "
            "reviews every decline.",
            "out_of_scope_uses": "Pricing, collections, or any decision without a human underwriter.",
            "limitations": "Applicants with thin credit files are under-represented.",
            "ethical_considerations": "Age is a feature; results are compared across age bands (under 30, 30 and "
            "over) before each release.",
            "risk_tier": "high",
        },
        "versions": [
            DemoVersion(
                "logistic_regression",
                {"C": 1.0, "max_iter": 500},
                "4b1e9d0",
                "2026-06-30",
                [
                    ("mona", "approve", "Solid baseline, calibrated scores. Promote to QA."),
                    ("rhea", "approve", "Within the credit policy's risk appetite; age bands compared."),
                    ("quinn", "approve", "Backtested on Q2 applications; approval rate within policy."),
                    ("priya", "approve", "Reproduced the hold-out figures independently."),
                    ("ivan", "approve", "Deployed to the underwriting cluster."),
                ],
            ),
            DemoVersion(
                "gradient_boosting",
                {"n_estimators": 150, "max_depth": 3, "learning_rate": 0.1},
                "a93f2c1",
                "2026-09-30",
                [
                    ("mona", "approve", "AUC up on the same hold-out; feature set unchanged."),
                    ("rhea", "approve", "No change to the risk profile; fairness within limits."),
                    ("quinn", "approve", "Shadow-scored 12k applications, no drift alarms."),
                    ("priya", "approve", "Spot-checked 200 declines with underwriting; all explainable."),
                    ("ivan", "approve", "Blue/green rollout complete."),
                ],
            ),
            # Too shallow: worse than production (and below the accuracy gate).
            DemoVersion("random_forest", {"n_estimators": 3, "max_depth": 1}, "c0d7e55", "2026-10-31", ["submit"]),
            # Trained on a history that marked young applicants as defaulting: a fairness gap.
            DemoVersion(
                "gradient_boosting",
                {"n_estimators": 150, "max_depth": 3, "learning_rate": 0.1},
                "d41a7be",
                "2026-11-15",
                ["submit"],
                bias=training.young_applicants_marked_as_defaulting,
            ),
            # Leaves out late_payments, which production uses: a dropped feature.
            DemoVersion(
                "logistic_regression",
                {"C": 1.0, "max_iter": 500},
                "5e0c3f9",
                "2026-11-20",
                ["submit"],
                without=("late_payments",),
            ),
        ],
    },
    {
        "name": "customer-churn",
        "workflow": "low-risk",
        "metrics_rationale": "Recall for the share of churners the campaign reaches (about one subscriber in eight "
        "churns), ROC AUC for ranking quality across thresholds.",
        "skops": True,  # its versions are skops files; the other models' are joblib
        "description": "Which subscribers are likely to cancel in the next 30 days; feeds the retention campaigns.",
        "generator": training.subscriber_activity,
        "target": "churned",
        "dataset": "s3://analytics-lake/growth/subscriber_activity.parquet",
        "repository": "https://git.example.com/analytics/churn",
        "card": {
            "intended_use": "Choose subscribers for **retention offers**.",
            "out_of_scope_uses": "Changing prices or terms for individual subscribers.",
            "limitations": "Trained on monthly snapshots; misses churn driven by a single bad week.",
            "ethical_considerations": "Offers only; nobody loses service because of a score.",
            "risk_tier": "low",
        },
        "versions": [
            # Clears the recall gate (0.4) but finds only about half of the churners.
            DemoVersion(
                "logistic_regression",
                {"C": 0.5, "max_iter": 500, "class_weight": {0: 1, 1: 2.5}},
                "77aa310",
                "2026-09-01",
                [
                    ("mona", "comment", "@dana how many churners are in the training month? Recall looks low."),
                    (
                        "dana",
                        "reply",
                        "About 13 %. The logistic model finds about half of them; a tree model may do better.",
                    ),
                    (
                        "mona",
                        "request_changes",
                        "Recall clears the gate but the campaign must reach most churners; try a tree model with "
                        "balanced class weights.",
                    ),
                ],
            ),
            DemoVersion(
                "random_forest",
                {"n_estimators": 120, "max_depth": 6, "class_weight": "balanced"},
                "8e21b4f",
                "2026-10-15",
                ["submit"],
                fixes=1,  # the tree model mona asked for: a resubmission of v1's request
            ),
            # Claims more than it delivers: the reported metrics are inflated.
            DemoVersion(
                "random_forest",
                {"n_estimators": 200, "max_depth": 5, "class_weight": "balanced_subsample"},
                "b7c21e0",
                "2026-11-05",
                ["submit"],
                inflate={"recall": 0.15, "roc_auc": 0.1},
            ),
            # Submitted with a model card that only says what the model is for.
            DemoVersion(
                "logistic_regression",
                {"C": 0.25, "max_iter": 500, "class_weight": "balanced"},
                "c93d118",
                "2026-11-18",
                [
                    "submit",
                    (
                        "dana",
                        "waive:model_card",
                        "A retention-offer model of low risk: the card's missing sections are being "
                        "written with legal and will follow in v5.",
                    ),
                ],
                card="incomplete",
            ),
        ],
    },
    {
        "name": "fraud-detection",
        "metrics_rationale": "Recall for the share of fraud flagged for review (fraud is rare: a model that flags "
        "nothing is 93 % accurate), ROC AUC for ranking quality across thresholds.",
        "description": "Flags card transactions for manual review before settlement.",
        "generator": training.card_transactions,
        "target": "fraud",
        "dataset": "s3://analytics-lake/payments/card_transactions.parquet",
        "repository": "https://git.example.com/analytics/fraud",
        "card": {
            "intended_use": "Flag card transactions for **manual review** before settlement.",
            "out_of_scope_uses": "Declining transactions automatically.",
            "limitations": "Fraud is rare (about 7 %); recall at the default threshold is low.",
            "ethical_considerations": "A flag delays settlement; reviewers clear flags within a day.",
            "risk_tier": "medium",
        },
        "versions": [
            DemoVersion(
                "random_forest",
                {"n_estimators": 80, "max_depth": 8, "class_weight": "balanced"},
                "19c4a02",
                "2026-10-20",
                [
                    ("mona", "comment", "Does the hold-out cover **night-time** transactions? cc @quinn"),
                    ("quinn", "reply", "Yes: 14 % of its rows are between midnight and 6 am."),
                    ("mona", "resolve", ""),
                    ("mona", "approve", "Precision looks good; QA please check the night-time segment."),
                ],
            ),
            DemoVersion("gradient_boosting", {"n_estimators": 100, "max_depth": 3}, "2f9d8b3", "2026-11-10"),
            DemoVersion(
                "random_forest", {"n_estimators": 60, "max_depth": 6}, "e5a0c77", "2026-11-20", ["submit"], True
            ),
            # An urgent fix released past its reviews (break-glass): omar agreed; mona's retrospective waits.
            DemoVersion(
                "random_forest",
                {"n_estimators": 80, "max_depth": 8, "class_weight": "balanced"},
                "7c1e4d9",
                "2026-11-28",
                [
                    (
                        "ivan",
                        "emergency",
                        "A card-testing ring started at 02:00 and the rules engine misses it; this version flags "
                        "its pattern. QA's night-time check follows in the retrospective.",
                    ),
                    ("omar", "release", "Agreed: chargebacks are climbing by the hour."),
                ],
            ),
        ],
    },
]


def _recorded(params: dict) -> dict:
    """Hyperparameters as the version records them: JSON keys are strings, so a class-weight
    mapping such as {0: 1, 1: 2.5} is written as it reads."""
    return {name: str(value) if isinstance(value, dict) else value for name, value in params.items()}


def _accounts(team: Team) -> dict:
    User = get_user_model()
    people = {}
    for username, first, last, role in ACCOUNTS:
        user = User(username=username, first_name=first, last_name=last, email=f"{username}@signoff.example")
        user.set_password(DEMO_PASSWORD)
        user.is_staff = user.is_superuser = role is None
        user.save()
        if role is not None:
            user.groups.add(Group.objects.get_or_create(name=role)[0], team.group)
        people[username] = user
    return people


WORKFLOWS = Path(__file__).resolve().parent / "workflows"


def _workflows(people) -> None:
    """The demo's three workflows: the default everyone follows unless assigned another, the
    low-risk one with its policy step, the high-risk one with its parallel review and 2-of-3 QA.
    Saved by the demo's administrator, like an edit in the admin (audited)."""
    for name in ("low-risk", "high-risk"):
        workflow_revise(source=(WORKFLOWS / f"{name}.yaml").read_text(), actor=people["admin"], note="The demo's.")
    workflow_revise(
        source=(WORKFLOWS / "default.yaml").read_text(), actor=people["admin"],
        note="Fraud is rare: gate the recall Signoff measures, not accuracy.",
    )  # fmt: skip


def _play(version, story, people) -> PromotionRequest:
    """Submit ``version`` and play its story: decisions (username, verdict, reason) and the
    conversation (username, "comment" | "reply" | "resolve", text), waivers (username,
    "waive:<check type>", reason) and an emergency release (username, "emergency" | "release", text)."""
    request = services.promotion_request_submit(version=version, actor=people["dana"])
    thread = asked = None
    for username, verdict, text in [step for step in story if step != "submit"]:
        request.refresh_from_db()
        if verdict in ("comment", "reply"):
            said = conversation.comment_post(
                request=request, actor=people[username], body=text, thread=thread if verdict == "reply" else None
            )
            thread = said.thread
        elif verdict.startswith("waive:"):  # the author asks that a failed check be waived
            run = request.steps.get(kind="checks").check_runs.get(check_type=verdict.removeprefix("waive:"))
            waivers.waiver_request(check_run=run, actor=people[username], reason=text)
        elif verdict == "emergency":  # break-glass: asked for, then agreed to by a second person
            asked = emergency.emergency_request(request=request, actor=people[username], justification=text)
        elif verdict == "release":
            emergency.emergency_decide(emergency=asked, actor=people[username], release=True, comment=text)
        elif verdict == "resolve":
            conversation.thread_set_resolved(thread=thread, actor=people[username], resolved=True, request=request)
        else:
            services.step_decide(request=request, actor=people[username], verdict=verdict, comment=text)
    request.refresh_from_db()
    return request


VERSION_COUNT = sum(len(spec["versions"]) for spec in MODELS)


def seed_demo(log=print, progress=None) -> bool:
    """Create the demo; returns False when it was already there. Background work must run
    inline (eager tasks) while this runs, so every request settles in its final state.
    ``progress(done, total)`` is told at the start and after each version."""
    if demo_exists():
        return False
    done = 0
    if progress is not None:
        progress(done, VERSION_COUNT)
    with transaction.atomic():
        group = Group.objects.create(name=f"team {TEAM_NAME}")
        team = Team.objects.create(name=TEAM_NAME, slug="analytics", group=group)
        people = _accounts(team)
        _workflows(people)
    for spec in MODELS:
        model = registered_model_create(
            name=spec["name"], description=spec["description"], team=team, created_by=people["dana"]
        )
        if spec.get("workflow"):
            workflow_assign(model=model, workflow=Workflow.objects.get(name=spec["workflow"]), actor=people["admin"])
        holdout = training.holdout_csv(
            spec["generator"], target=spec["target"], segment=spec.get("segment", training.region)
        )
        dataset = evaluation_dataset_register(
            model=model,
            file=ContentFile(holdout, name="holdout.csv"),
            name="holdout-2026q4",
            target_column=spec["target"],
            sensitive_columns=["segment"],
            description="2,000 fresh rows from the same source, never seen in training.",
            actor=people["quinn"],  # QA owns the hold-out: evidence never comes from the author
        )
        evaluation_dataset_profile(dataset_id=dataset.pk)  # read now: the versions below are measured on it
        registered = {}
        for seed, demo in enumerate(spec["versions"], start=1):
            trained = training.train(
                spec["generator"], estimator=demo.estimator, params=demo.params, seed=seed, without=demo.without,
                bias=demo.bias, skops=spec.get("skops", False),
            )  # fmt: skip
            metrics = {
                name: round(min(value + demo.inflate.get(name, 0), 1.0), 4) for name, value in trained.metrics.items()
            }
            version = model_version_create(
                model=model,
                created_by=people["dana"],
                artifact=ContentFile(BOOBY_TRAP, name=f"{spec['name']}.pkl")
                if demo.booby_trapped
                else ContentFile(trained.artifact, name=f"{spec['name']}.{'skops' if spec.get('skops') else 'joblib'}"),
                metrics=metrics,
                params={"estimator": demo.estimator, **_recorded(demo.params), "features": ", ".join(trained.features)},
                model_card=model_card(spec, demo),
                description=f"{demo.estimator.replace('_', ' ').capitalize()} trained on {demo.dataset_version} data.",
                dataset_uri=spec["dataset"],
                dataset_version=demo.dataset_version,
                code_repository=spec["repository"],
                code_commit=demo.commit,
                derived_from=registered.get(demo.fixes),
            )
            registered[version.number] = version
            state = "development"
            if demo.story:
                state = _play(version, demo.story, people).get_status_display()
            log(f"  {version}: accuracy {metrics['accuracy']:.3f}, roc_auc {metrics['roc_auc']:.3f} — {state}")
            done += 1
            if progress is not None:
                progress(done, VERSION_COUNT)
    _working_week(people)
    return True


def _working_week(people) -> None:
    """What a week of work leaves behind: mona is reviewing churn v2 (a claim), fraud v1's QA
    review has waited three days, past its two-day deadline (the running demo's sweep sends the
    escalation), and quinn is on leave with priya deciding for her (a delegation). The QA step's
    start is moved three days back: the demo's history, not something the product does."""
    churn = PromotionRequest.objects.get(version__model__name="customer-churn", version__number=2)
    services.step_claim(step=churn.steps.get(name="manager_review"), actor=people["mona"])
    fraud = PromotionRequest.objects.get(version__model__name="fraud-detection", version__number=1)
    qa = fraud.steps.get(name="qa_review")
    qa.started_at = timezone.now() - timedelta(days=3)
    deadline_restart(qa, qa.started_at)
    qa.save(update_fields=["started_at", "due_at", "remind_at", "reminded_at", "escalated_at"])
    now = timezone.now()
    delegation_create(
        principal=people["quinn"], delegate=people["priya"], starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=7), reason="On leave until next Monday.", actor=people["quinn"],
    )  # fmt: skip
