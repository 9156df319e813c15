from django.urls import path

from evidence.api import views

urlpatterns = [
    path("models/<str:name>/datasets/", views.DatasetListView.as_view(), name="api-dataset-list"),
    path("models/<str:name>/datasets/<str:dataset>/", views.DatasetDetailView.as_view(), name="api-dataset-detail"),
]
