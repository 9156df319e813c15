from django.contrib import admin
from django.urls import include, path

# Uploaded artifacts are never served from a URL of their own (no /media/): they download only
# through the scoped artifact views, as attachments.
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("config.api_urls")),
    path("", include("accounts.urls")),
    path("", include("registry.urls")),
    path("", include("evidence.urls")),
    path("", include("approvals.urls")),
    path("", include("audit.urls")),
    path("", include("notifications.urls")),
    path("", include("mlflow_link.urls")),
]
