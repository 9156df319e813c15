from django.contrib import admin

from config.admin import ReadOnlyAdmin
from jobs.models import Job
from jobs.runner import job_target


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    """Background work as it stands: what each job works on, its attempts and last error.
    Read-only: the runner and the sweeper change jobs; nobody edits them by hand."""

    list_display = ["id", "kind", "target", "status", "attempts", "run_after", "finished_at"]
    list_filter = ["status", "kind"]
    search_fields = ["=target_id"]
    ordering = ["-created_at"]
    fields = ["kind", "target", "status", "attempts", "share", "run_after", "lease_expires_at", "created_at",
              "finished_at", "last_error", "log"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="works on")
    def target(self, job):
        try:
            found = job_target(job)
        except LookupError:  # a kind no installed app registers any more
            return f"{job.kind} #{job.target_id}"
        return found if found is not None else f"{job.kind} #{job.target_id} (gone)"
