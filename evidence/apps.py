from django.apps import AppConfig


def start_the_sandbox_fork_server(**_):
    """Each worker pool process forks its sandboxed checks from a fork server that has the
    libraries imported (``evidence.sandbox.zygote``); it starts importing now, while the worker
    waits. (Connected in the worker's parent, which sets Django up before it forks its pool.)"""
    from evidence.sandbox import enable_zygote

    enable_zygote()


def stop_the_sandbox_fork_server(**_):
    from evidence.sandbox import disable_zygote

    disable_zygote()


class EvidenceConfig(AppConfig):
    """Evaluation datasets, measurements, comparison, the checks and the sandbox. Imports no
    workflow code: the engine hands checks a plain ``CheckInput``."""

    name = "evidence"
    verbose_name = "Evidence"

    def ready(self):
        from celery.signals import worker_process_init, worker_process_shutdown

        from evidence import checks as checks  # noqa: F401  (registers the check plug-ins)
        from evidence.job_kinds import register_kinds

        register_kinds()

        from evidence.views import model_page_part
        from registry import page_parts

        page_parts.model_part(model_page_part)
        worker_process_init.connect(start_the_sandbox_fork_server, weak=False, dispatch_uid="evidence.zygote_start")
        worker_process_shutdown.connect(stop_the_sandbox_fork_server, weak=False, dispatch_uid="evidence.zygote_stop")
