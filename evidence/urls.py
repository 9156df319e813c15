from django.urls import path

from evidence import views

urlpatterns = [
    path("models/<str:name>/datasets/", views.dataset_list, name="dataset-list"),
    path("models/<str:name>/datasets/new/", views.dataset_create, name="dataset-create"),
]
