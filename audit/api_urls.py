from django.urls import path

from audit.api import AuditEventListView

urlpatterns = [path("audit-events/", AuditEventListView.as_view(), name="api-audit-events")]
