from django.urls import path

from registry import team_views, views

urlpatterns = [
    path("models/", views.model_list, name="model-list"),
    path("models/<str:name>/", views.model_detail, name="model-detail"),
    path("models/<str:name>/versions/new/", views.version_create, name="version-create"),
    path("models/<str:name>/versions/<int:number>/", views.version_detail, name="version-detail"),
    path("models/<str:name>/versions/<int:number>/artifact/", views.version_artifact, name="version-artifact"),
    path("models/<str:name>/versions/<int:number>/card/", views.version_card, name="version-card"),
    path("teams/", team_views.team_list, name="team-list"),
    path("teams/<slug:slug>/", team_views.team_detail, name="team-detail"),
    path("teams/<slug:slug>/members/", team_views.team_member_add, name="team-member-add"),
    path("teams/<slug:slug>/members/roles/", team_views.team_member_roles, name="team-member-roles"),
    path("teams/<slug:slug>/members/remove/", team_views.team_member_remove, name="team-member-remove"),
    path("teams/<slug:slug>/grants/", team_views.team_model_grant, name="team-model-grant"),
]
