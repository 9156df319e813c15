from django.urls import path

from accounts import api

urlpatterns = [
    path("tokens/", api.TokenListCreateView.as_view(), name="api-token-list"),
    path("tokens/<int:pk>/", api.TokenRevokeView.as_view(), name="api-token-revoke"),
]
