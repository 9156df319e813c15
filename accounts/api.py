"""API tokens through the API, for a pipeline that rotates its own: create one with your password
or with a token of yours (a token mints only tokens with no more scopes than its own), list
yours, revoke one. Keys are shown once, at creation; only their digests are kept."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import AuthenticationFailed, NotFound, PermissionDenied
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from accounts import services
from accounts.models import ApiToken, Scope
from config.api import REFUSALS
from registry.api.serializers import StrictInputSerializer


class TokenInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100, help_text="What the token is for, e.g. 'CI pipeline'.")
    days = serializers.IntegerField(required=False, min_value=1, max_value=366)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices), required=False,
                                   max_length=len(Scope.values), min_length=1)  # fmt: skip
    username = serializers.CharField(required=False, max_length=150, help_text="With password, instead of a token.")
    password = serializers.CharField(required=False, max_length=4096, trim_whitespace=False,
                                     style={"input_type": "password"})  # fmt: skip


class TokenOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at"]


class TokenListCreateView(generics.GenericAPIView):
    serializer_class = TokenOutputSerializer
    permission_classes = [AllowAny]  # the password path has no credentials yet; checked below
    token_scope = Scope.READ

    @extend_schema(responses={200: TokenOutputSerializer(many=True)}, summary="Your API tokens, newest first")
    def get(self, request):
        if not request.user.is_authenticated:
            raise AuthenticationFailed("Authentication credentials were not provided.")
        page = self.paginate_queryset(ApiToken.objects.filter(user=request.user).order_by("-created_at", "-pk"))
        return self.get_paginated_response(TokenOutputSerializer(page, many=True).data)

    @extend_schema(
        request=TokenInputSerializer,
        responses={201: TokenOutputSerializer, **REFUSALS},
        summary="Create an API token with your password or a token of yours; the key is shown once",
    )
    def post(self, request):
        data = TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = dict(data.validated_data)
        username, password = given.pop("username", None), given.pop("password", None)
        if request.user.is_authenticated:
            user = request.user
            if isinstance(request.auth, ApiToken) and not set(given.get("scopes", request.auth.scopes)) <= set(
                request.auth.scopes
            ):
                raise PermissionDenied("A token creates tokens with no more scopes than its own.")
            given.setdefault("scopes", list(request.auth.scopes) if isinstance(request.auth, ApiToken) else None)
        else:
            if not username or password is None:
                raise AuthenticationFailed("Give your username and password, or authenticate with a token of yours.")
            user = authenticate(request, username=username, password=password)
            if user is None or not user.is_active:
                raise AuthenticationFailed("Wrong username or password (or locked out after too many tries).")
        token, key = services.api_token_create(user=user, **given)
        return Response({**TokenOutputSerializer(token).data, "key": key}, status=status.HTTP_201_CREATED)


class TokenRevokeView(generics.GenericAPIView):
    serializer_class = None
    permission_classes = [IsAuthenticated]
    token_scope = Scope.READ  # revoking a token of one's own takes nothing more

    @extend_schema(request=None, responses={204: None, 404: None}, summary="Revoke one of your API tokens")
    def delete(self, request, pk):
        token = ApiToken.objects.filter(pk=pk, user=request.user).first()  # someone else's token is a 404
        if token is None:
            raise NotFound("You have no token with this id.")
        services.api_token_revoke(token=token, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
