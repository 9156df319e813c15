from django.urls import path

from approvals.views import (
    attestations,
    compare,
    conversation,
    delegations,
    email_actions,
    emergency,
    home,
    models,
    requests,
    waivers,
)

urlpatterns = [
    path("", home.dashboard, name="dashboard"),
    path("models/<str:name>/rollback/", models.model_rollback, name="model-rollback"),
    path("models/<str:name>/compare/", compare.model_compare, name="model-compare"),
    path("models/<str:name>/versions/<int:number>/submit/", models.version_submit, name="version-submit"),
    path("models/<str:name>/versions/<int:number>/check/", models.version_preflight, name="version-preflight"),
    path(
        "models/<str:name>/versions/<int:number>/check/progress/",
        models.version_preflight_progress,
        name="version-preflight-progress",
    ),
    path(
        "models/<str:name>/versions/<int:number>/attestation/",
        attestations.version_attestation,
        name="version-attestation",
    ),
    path("attestations/public-key.pem", attestations.public_key, name="attestation-public-key"),
    path("delegations/", delegations.delegation_list, name="delegation-list"),
    path("delegations/new/", delegations.delegation_create, name="delegation-create"),
    path("delegations/<int:pk>/revoke/", delegations.delegation_revoke, name="delegation-revoke"),
    path("requests/", requests.request_list, name="request-list"),
    path("requests/<int:pk>/", requests.request_detail, name="request-detail"),
    path("requests/<int:pk>/progress/", requests.request_progress, name="request-progress"),
    path("requests/<int:pk>/decide/", requests.request_decide, name="request-decide"),
    path("requests/<int:pk>/withdraw/", requests.request_withdraw, name="request-withdraw"),
    path("requests/<int:pk>/claim/", requests.request_claim, name="request-claim"),
    path("requests/<int:pk>/act/", email_actions.request_act, name="request-act"),
    path("requests/<int:pk>/release/", requests.request_release, name="request-release"),
    path("requests/<int:pk>/comments/", conversation.comment_post, name="request-comment"),
    path("requests/<int:pk>/comments/<int:comment_id>/edit/", conversation.comment_edit, name="request-comment-edit"),
    path("requests/<int:pk>/waivers/", waivers.waiver_request, name="request-waiver"),
    path("requests/<int:pk>/waivers/<int:waiver_id>/decide/", waivers.waiver_decide, name="request-waiver-decide"),
    path("requests/<int:pk>/emergency/", emergency.emergency_request, name="request-emergency"),
    path(
        "requests/<int:pk>/emergency/<int:emergency_id>/decide/",
        emergency.emergency_decide,
        name="request-emergency-decide",
    ),
    path(
        "requests/<int:pk>/threads/<int:thread_id>/resolve/", conversation.thread_resolve, name="request-thread-resolve"
    ),
]
