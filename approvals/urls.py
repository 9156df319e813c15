from django.urls import path

from approvals.views import compare, home, models, requests

urlpatterns = [
    path("", home.dashboard, name="dashboard"),
    path("models/", models.model_list, name="model-list"),
    path("models/<str:name>/", models.model_detail, name="model-detail"),
    path("models/<str:name>/versions/new/", models.version_create, name="version-create"),
    path("models/<str:name>/rollback/", models.model_rollback, name="model-rollback"),
    path("models/<str:name>/compare/", compare.model_compare, name="model-compare"),
    path("models/<str:name>/datasets/", models.dataset_list, name="dataset-list"),
    path("models/<str:name>/datasets/new/", models.dataset_create, name="dataset-create"),
    path("models/<str:name>/versions/<int:number>/", models.version_detail, name="version-detail"),
    path("models/<str:name>/versions/<int:number>/artifact/", models.version_artifact, name="version-artifact"),
    path("models/<str:name>/versions/<int:number>/card/", models.version_card, name="version-card"),
    path("models/<str:name>/versions/<int:number>/submit/", models.version_submit, name="version-submit"),
    path("requests/", requests.request_list, name="request-list"),
    path("requests/<int:pk>/", requests.request_detail, name="request-detail"),
    path("requests/<int:pk>/progress/", requests.request_progress, name="request-progress"),
    path("requests/<int:pk>/decide/", requests.request_decide, name="request-decide"),
]
