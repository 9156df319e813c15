"""The one runner of background work: every Celery task is ``run_job(job_id)``.

A ``Job`` row is written in the same transaction as the change that needs it and handed to the
broker after commit. The worker claims it with a conditional update and a lease; a handler either
finishes, raises ``TransientError`` (retried with backoff up to ``MAX_ATTEMPTS``) or raises
anything else (permanent: the kind's failure outcome, defined by the domain, is applied). The
sweeper, run by Celery beat every 10 seconds, hands over jobs whose message was lost (broker down
at commit) or whose worker died (expired lease), and runs each kind's own ``sweep`` (the approvals
app concludes checks steps whose runs are all finished). Nobody has to run a command.

Apps register their kinds in ``AppConfig.ready()``: ``register(kind, target=, run=, fail=, sweep=)``;
this module imports no domain app.

A job may belong to a share (a check: its model's team). While jobs of another share wait, a share
runs at most ``SIGNOFF_CHECKS_PER_TEAM`` jobs of a kind at once; its further jobs step back for a
second and are offered again, so two teams' slow models cannot hold every worker.

Leases are short (``SIGNOFF_JOB_LEASE_SECONDS``, 20 s) and a running job renews its own every
few seconds from a heartbeat thread, so a long check keeps its lease while its process lives,
and the jobs of a worker killed with ``kill -9`` are free again within seconds: a restarted
worker sweeps as it starts, and beat sweeps every 10 s.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from jobs.models import Job

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
BACKOFF_SECONDS = (2, 10, 30)


class TransientError(Exception):
    """Worth another try: the server, file or lock may be back in a moment."""


@dataclass(frozen=True)
class JobKind:
    """How to run one kind of job: ``target``, the model whose row ``target_id`` is (a check run,
    a step, ...); ``run(target_id, final_attempt=)``; ``fail(target_id, reason)`` when it fails for
    good; and ``sweep()`` (optional), run by the sweeper, which returns how many stranded units of
    work it took up."""

    target: type
    run: Callable[..., None]
    fail: Callable[[int, str], None]
    sweep: Callable[[], int] | None = None

    @property
    def lease(self) -> timedelta:
        # Short: the heartbeat renews it while the job's process lives (``_Heartbeat``).
        return timedelta(seconds=settings.SIGNOFF_JOB_LEASE_SECONDS)


_KINDS: dict[str, JobKind] = {}


def database_hiccups_are_transient(function):
    """Wrap a kind's ``run``: a deadlock, lock timeout or lost connection is worth another try."""

    def run(target_id, *, final_attempt):
        try:
            return function(target_id, final_attempt=final_attempt)
        except OperationalError as error:
            raise TransientError(str(error)) from error

    return run


def register(kind: str, *, target: type, run, fail, sweep=None) -> None:
    _KINDS[kind] = JobKind(target=target, run=run, fail=fail, sweep=sweep)


def kind_of(kind: str) -> JobKind:
    try:
        return _KINDS[kind]
    except KeyError:
        raise LookupError(f"no app registered the job kind {kind!r}") from None


def job_target(job: Job):
    """The row the job works on (None when it is gone), as its kind's ``target`` model."""
    return kind_of(job.kind).target._default_manager.filter(pk=job.target_id).first()


SHARE_RETRY = timedelta(seconds=1)  # a job over its share's limit is offered again this soon
_SHARE_LOCK = 0x5359  # PostgreSQL advisory lock namespace of the shares (the share id is the second key)


def job_enqueue(kind: str, target_id: int, *, again: bool = False) -> Job:
    """Record the job in the caller's transaction and hand it to a worker after commit.

    One job per unit of work: enqueueing it twice returns the existing row; ``again`` makes a
    finished one due once more (a deployment retried).
    """
    from jobs import tasks

    kind_of(kind)  # a kind nobody can run is refused here, in the change's transaction
    job, created = Job.objects.get_or_create(kind=kind, target_id=target_id)
    if again and not created and job.status in (Job.Status.DONE, Job.Status.FAILED):
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.PENDING, attempts=0, run_after=timezone.now(), finished_at=None
        )
    # robust: the change is already committed when the broker is asked; if the broker is down
    # the job is still a pending row, and the sweeper hands it over later.
    transaction.on_commit(lambda: tasks.run_job.delay(job.pk), robust=True)
    return job


def jobs_enqueue_new(kind: str, target_ids: list[int], *, share: int | None = None) -> list[Job]:
    """``job_enqueue`` for targets just created in the caller's transaction (no job can exist
    for them yet): one insert for all, each handed to a worker after commit; ``share`` is whose
    share of the workers they take (see the module's docstring)."""
    from jobs import tasks

    kind_of(kind)
    jobs = Job.objects.bulk_create(Job(kind=kind, target_id=target_id, share=share) for target_id in target_ids)
    for job in jobs:
        transaction.on_commit(lambda job_id=job.pk: tasks.run_job.delay(job_id), robust=True)
    return jobs


def job_claim(job_id: int) -> Job | None:
    """Take the job if it is due, or if the worker that held it let its lease expire."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        return None
    if job.share is None:
        return _take(job, timezone.now())
    with transaction.atomic():
        _lock_share(job.share)  # claims within one share queue here, so its count cannot be raced
        now = timezone.now()
        if not _over_share(job, now):
            return _take(job, now)
        stepped_back = Job.objects.filter(pk=job_id, status=Job.Status.PENDING, run_after__lte=now).update(
            run_after=now + SHARE_RETRY
        )
        if stepped_back:
            from jobs import tasks

            countdown = SHARE_RETRY.total_seconds()
            transaction.on_commit(lambda: tasks.run_job.apply_async((job_id,), countdown=countdown), robust=True)
        return None


def _take(job: Job, now) -> Job | None:
    """Claim ``job`` as read (its attempt count unchanged since), and return it as claimed."""
    lease_expires_at = now + kind_of(job.kind).lease
    claimed = Job.objects.filter(
        Q(status=Job.Status.PENDING, run_after__lte=now) | Q(status=Job.Status.RUNNING, lease_expires_at__lt=now),
        pk=job.pk,
        attempts=job.attempts,
    ).update(status=Job.Status.RUNNING, attempts=F("attempts") + 1, lease_expires_at=lease_expires_at)
    if not claimed:
        return None
    job.status, job.attempts, job.lease_expires_at = Job.Status.RUNNING, job.attempts + 1, lease_expires_at
    return job


def _lock_share(share: int) -> None:
    # SQLite needs nothing: its transactions begin IMMEDIATE (settings), one writer at a time.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_SHARE_LOCK, share % 2**31])


def _over_share(job: Job, now) -> bool:
    """Whether ``job``'s share already runs its limit of the kind while a job of another share,
    one still under its limit, waits (shares at their limit do not hold each other back)."""
    limit = settings.SIGNOFF_CHECKS_PER_TEAM
    running = Job.objects.filter(kind=job.kind, status=Job.Status.RUNNING, lease_expires_at__gte=now)
    if running.filter(share=job.share).count() < limit:
        return False
    full = running.values("share").annotate(running=Count("pk")).filter(running__gte=limit).values("share")
    waiting = Job.objects.filter(kind=job.kind, status=Job.Status.PENDING, run_after__lte=now, share__isnull=False)
    return waiting.exclude(share=job.share).exclude(share__in=full).exists()


class _Heartbeat:
    """Renews a claimed job's lease every third of it, from a thread of its own (with its own
    database connection), until the job ends. The renewal is conditional on the attempt this
    worker claimed, so a lease taken over meanwhile is never extended by the old holder."""

    def __init__(self, job: Job, lease: timedelta):
        self.job, self.lease = job, lease
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"job-{job.pk}-heartbeat", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join()

    def _beat(self):
        from django.db import connection

        try:
            while not self.stopped.wait(self.lease.total_seconds() / 3):
                try:
                    Job.objects.filter(pk=self.job.pk, status=Job.Status.RUNNING, attempts=self.job.attempts).update(
                        lease_expires_at=timezone.now() + self.lease
                    )
                except Exception:  # noqa: BLE001 - a missed beat is retried; the lease has slack
                    logger.warning("could not renew the lease of job %s", self.job.pk, exc_info=True)
        finally:
            connection.close()


def job_run(job_id: int, *, retry_inline: bool = False) -> str | None:
    """Run the job if this worker can claim it; returns its status then (None: not claimed).

    ``retry_inline`` (tasks run eagerly, in tests and scripts) retries transient errors at once
    instead of leaving the job for later.
    """
    while True:
        job = job_claim(job_id)
        if job is None:
            return None
        kind = kind_of(job.kind)
        try:
            if retry_inline:  # eager (tests, scripts): nobody else could take the job meanwhile
                kind.run(job.target_id, final_attempt=job.attempts >= MAX_ATTEMPTS)
            else:
                with _Heartbeat(job, kind.lease):
                    kind.run(job.target_id, final_attempt=job.attempts >= MAX_ATTEMPTS)
        except TransientError as error:
            if job.attempts < MAX_ATTEMPTS:
                delay = 0 if retry_inline else BACKOFF_SECONDS[min(job.attempts, len(BACKOFF_SECONDS)) - 1]
                _finish(job, Job.Status.PENDING, error, run_after=timezone.now() + timedelta(seconds=delay))
                if retry_inline:
                    continue
                return Job.Status.PENDING
            _fail(job, kind, error)
            return Job.Status.FAILED
        except Exception as error:  # permanent: a bug or bad data must not leave the request hanging
            logger.exception("job %s failed", job)
            _fail(job, kind, error)
            return Job.Status.FAILED
        _finish(job, Job.Status.DONE)
        return Job.Status.DONE


def job_time_out(job_id: int) -> None:
    """The soft time limit struck: a failed attempt, retried if attempts remain."""
    job = Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).first()
    if job is None:
        return
    error = TransientError("the job ran past its time limit")
    if job.attempts < MAX_ATTEMPTS:
        _finish(job, Job.Status.PENDING, error, run_after=timezone.now() + timedelta(seconds=BACKOFF_SECONDS[-1]))
    else:
        _fail(job, kind_of(job.kind), error)


def _finish(job: Job, status: str, error: Exception | None = None, run_after=None) -> None:
    fields = {"status": status, "lease_expires_at": None}
    if error is not None:
        fields["last_error"] = f"{type(error).__name__}: {error}"[:2000]
        fields["log"] = (job.log + f"attempt {job.attempts}: {fields['last_error']}\n")[-10_000:]
    if run_after is not None:
        fields["run_after"] = run_after
    if status in (Job.Status.DONE, Job.Status.FAILED):
        fields["finished_at"] = timezone.now()
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(**fields)


def _fail(job: Job, kind: JobKind, error: Exception) -> None:
    _finish(job, Job.Status.FAILED, error)
    kind.fail(job.target_id, f"{type(error).__name__}: {error}"[:500])


def jobs_sweep(*, now=None, handover_after: timedelta | None = None) -> dict[str, int]:
    """Hand over what would otherwise wait for ever; returns how many jobs of each sort.

    A pending job due for ``handover_after`` (default ``SIGNOFF_JOB_HANDOVER_SECONDS``) lost its
    message, e.g. the broker was down at commit: it is sent again (running it twice is harmless,
    the claim lets one through).
    """
    if handover_after is None:
        handover_after = timedelta(seconds=settings.SIGNOFF_JOB_HANDOVER_SECONDS)
    from jobs import tasks

    now = now or timezone.now()
    expired = list(Job.objects.filter(status=Job.Status.RUNNING, lease_expires_at__lt=now).values_list("pk", flat=True))
    lost = list(
        Job.objects.filter(status=Job.Status.PENDING, run_after__lte=now - handover_after).values_list("pk", flat=True)
    )
    for job_id in expired + lost:
        tasks.run_job.delay(job_id)
    swept = {"expired_leases": len(expired), "handed_over": len(lost)}
    for name, kind in sorted(_KINDS.items()):
        if kind.sweep is not None:
            swept[name] = kind.sweep()
    return swept
