from django.contrib.auth import views as auth_views
from django.urls import path

from approvals import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.dashboard, name="dashboard"),
    path("profile/", views.profile, name="profile"),
    path("models/", views.model_list, name="model-list"),
    path("models/<str:name>/", views.model_detail, name="model-detail"),
    path("models/<str:name>/versions/new/", views.version_create, name="version-create"),
    path("models/<str:name>/rollback/", views.model_rollback, name="model-rollback"),
    path("models/<str:name>/versions/<int:number>/", views.version_detail, name="version-detail"),
    path("models/<str:name>/versions/<int:number>/submit/", views.version_submit, name="version-submit"),
    path("audit/", views.audit_log, name="audit-log"),
    path("audit/export.csv", views.audit_export, name="audit-export"),
    path("requests/", views.request_list, name="request-list"),
    path("requests/<int:pk>/", views.request_detail, name="request-detail"),
    path("requests/<int:pk>/progress/", views.request_progress, name="request-progress"),
    path("requests/<int:pk>/decide/", views.request_decide, name="request-decide"),
]
