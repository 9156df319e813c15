from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("registry.api.urls")),
    path("", include("approvals.api.urls")),
    path("", include("evidence.api.urls")),
    path("", include("audit.api_urls")),
    path("", include("mlflow_link.api_urls")),
    path("", include("accounts.api_urls")),
]
