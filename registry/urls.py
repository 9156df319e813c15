from django.urls import path

from registry import views

urlpatterns = [
    path("models/", views.model_list, name="model-list"),
    path("models/<str:name>/", views.model_detail, name="model-detail"),
    path("models/<str:name>/versions/new/", views.version_create, name="version-create"),
    path("models/<str:name>/versions/<int:number>/", views.version_detail, name="version-detail"),
    path("models/<str:name>/versions/<int:number>/artifact/", views.version_artifact, name="version-artifact"),
    path("models/<str:name>/versions/<int:number>/card/", views.version_card, name="version-card"),
]
