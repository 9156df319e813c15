from django.urls import path

from approvals.api import conversation, emergency, views, waivers

urlpatterns = [
    path(
        "models/<str:name>/versions/<int:number>/submit/", views.VersionSubmitView.as_view(), name="api-version-submit"
    ),
    path(
        "models/<str:name>/versions/<int:number>/evidence/",
        views.VersionEvidenceView.as_view(),
        name="api-version-evidence",
    ),
    path(
        "models/<str:name>/versions/<int:number>/attestation/",
        views.VersionAttestationView.as_view(),
        name="api-version-attestation",
    ),
    path("models/<str:name>/compare/", views.ModelCompareView.as_view(), name="api-model-compare"),
    path("models/<str:name>/rollback/", views.ModelRollbackView.as_view(), name="api-model-rollback"),
    path("requests/", views.RequestListView.as_view(), name="api-request-list"),
    path("requests/<int:pk>/", views.RequestDetailView.as_view(), name="api-request-detail"),
    path("requests/<int:pk>/evidence/", views.RequestEvidenceView.as_view(), name="api-request-evidence"),
    path("requests/<int:pk>/decisions/", views.DecisionCreateView.as_view(), name="api-decision-create"),
    path("requests/<int:pk>/withdraw/", views.RequestWithdrawView.as_view(), name="api-request-withdraw"),
    path("requests/<int:pk>/claim/", views.StepClaimView.as_view(), name="api-step-claim"),
    path("requests/<int:pk>/release/", views.StepReleaseView.as_view(), name="api-step-release"),
    path("requests/<int:pk>/waivers/", waivers.WaiverRequestView.as_view(), name="api-waiver-request"),
    path("requests/<int:pk>/waivers/<int:waiver_id>/", waivers.WaiverDecideView.as_view(), name="api-waiver-decide"),
    path("requests/<int:pk>/emergency/", emergency.EmergencyRequestView.as_view(), name="api-emergency-request"),
    path(
        "requests/<int:pk>/emergency/<int:emergency_id>/",
        emergency.EmergencyDecideView.as_view(),
        name="api-emergency-decide",
    ),
    path("requests/<int:pk>/threads/", conversation.ThreadListView.as_view(), name="api-thread-list"),
    path("requests/<int:pk>/comments/", conversation.CommentCreateView.as_view(), name="api-comment-create"),
    path(
        "requests/<int:pk>/comments/<int:comment_id>/",
        conversation.CommentEditView.as_view(),
        name="api-comment-edit",
    ),
    path(
        "requests/<int:pk>/threads/<int:thread_id>/resolve/",
        conversation.ThreadResolveView.as_view(),
        name="api-thread-resolve",
    ),
]
