from django.urls import path

from registry.api import views

urlpatterns = [
    path("models/", views.ModelListCreateView.as_view(), name="api-model-list"),
    path("models/<str:name>/", views.ModelDetailView.as_view(), name="api-model-detail"),
    path("models/<str:name>/versions/", views.VersionListCreateView.as_view(), name="api-version-list"),
    path("models/<str:name>/versions/<int:number>/", views.VersionDetailView.as_view(), name="api-version-detail"),
    path(
        "models/<str:name>/versions/<int:number>/artifact/",
        views.VersionArtifactView.as_view(),
        name="api-version-artifact",
    ),
]
