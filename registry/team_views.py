"""The team pages: who is in a team and what each may do there, added with a user picker, and
the team's models with who may see them. Members read them; administrators change them (each
change is one service of ``registry.teams``, audited)."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.fields import IdChoiceField, IdMultipleChoiceField
from registry import services as registry_services
from registry import teams
from registry.models import (
    RegisteredModel,
    RegisteredModelGroupObjectPermission,
    RegisteredModelUserObjectPermission,
    Team,
    TeamRole,
)
from registry.permissions import VIEW_CODENAME


class MemberForm(forms.Form):
    user = IdChoiceField(queryset=get_user_model().objects.filter(is_active=True).order_by("username"))
    roles = IdMultipleChoiceField(
        queryset=teams.role_groups(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="What they do for this team's models only.",
    )  # fmt: skip

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = self.fields["user"].queryset.exclude(groups=team.group_id)
        self.fields["user"].label = "Person"


class RolesForm(forms.Form):
    user = IdChoiceField(queryset=get_user_model().objects.all())
    roles = IdMultipleChoiceField(queryset=teams.role_groups(), required=False)


class RemoveForm(forms.Form):
    user = IdChoiceField(queryset=get_user_model().objects.all())


class GrantForm(forms.Form):
    """One action: let another team, or one person, see and work on one of this team's models."""

    model = IdChoiceField(queryset=RegisteredModel.objects.all())
    grantee = forms.RegexField(
        regex=r"^(team|user):[0-9]{1,18}$", error_messages={"invalid": "Choose a team or a person."}
    )

    def clean_grantee(self):
        kind, pk = self.cleaned_data["grantee"].split(":")
        if kind == "team":
            found = Team.objects.filter(pk=int(pk)).select_related("group").first()
            grantee = found.group if found else None
        else:
            grantee = get_user_model().objects.filter(pk=int(pk), is_active=True).first()
        if grantee is None:
            raise ValidationError("That team or person does not exist.")
        return grantee


def _visible_team(user, slug: str) -> Team:
    team = Team.objects.filter(slug=slug).select_related("group").first()
    if team is None or not (user.is_superuser or user.groups.filter(pk=team.group_id).exists()):
        raise Http404("There is no such team, or you are not in it.")
    return team


@login_required
def team_list(request):
    visible = Team.objects.all() if request.user.is_superuser else Team.objects.filter(group__user=request.user)
    return render(request, "teams/list.html", {"teams": visible.order_by("name")})


def team_context(request, team: Team, **forms_given) -> dict:
    members = list(
        team.group.user_set.order_by("username").prefetch_related(
            Prefetch("groups", to_attr="all_groups"),
            Prefetch("team_roles", queryset=TeamRole.objects.filter(team=team).select_related("role"), to_attr="here"),
        )
    )
    roles = list(teams.role_groups())
    for member in members:
        member.everywhere = [g.name for g in member.all_groups if g.pk in {r.pk for r in roles}]
        member.here_ids = {row.role_id for row in member.here}
    models = list(
        team.models.order_by("name").prefetch_related(
            Prefetch(
                "registeredmodelgroupobjectpermission_set",
                queryset=RegisteredModelGroupObjectPermission.objects.filter(
                    permission__codename=VIEW_CODENAME
                ).select_related("group__team"),
                to_attr="group_grants",
            ),
            Prefetch(
                "registeredmodeluserobjectpermission_set",
                queryset=RegisteredModelUserObjectPermission.objects.filter(
                    permission__codename=VIEW_CODENAME
                ).select_related("user"),
                to_attr="user_grants",
            ),
        )
    )
    manage = request.user.is_superuser
    return {
        "team": team,
        "members": members,
        "roles": roles,
        "models": models,
        "manage": manage,
        "member_form": forms_given.get("member_form") or MemberForm(team=team),
        "other_teams": Team.objects.exclude(pk=team.pk).order_by("name") if manage else [],
        "people": get_user_model().objects.filter(is_active=True).order_by("username") if manage else [],
    }


@login_required
def team_detail(request, slug):
    team = _visible_team(request.user, slug)
    return render(request, "teams/detail.html", team_context(request, team))


def _refused(request, team, message, **forms_given):
    messages.error(request, message)
    return render(request, "teams/detail.html", team_context(request, team, **forms_given), status=400)


def _problems(form=None, error: ValidationError | None = None) -> str:
    if error is not None:
        return " ".join(text for texts in error.message_dict.values() for text in texts)
    return " ".join(f"{form.fields[f].label or f}: {' '.join(e)}" if f in form.fields else " ".join(e)
                    for f, e in form.errors.items())  # fmt: skip


@login_required
@require_POST
def team_member_add(request, slug):
    team = _visible_team(request.user, slug)
    form = MemberForm(request.POST, team=team)
    if not form.is_valid():
        return _refused(request, team, f"Nobody was added. {_problems(form)}", member_form=form)
    try:
        teams.team_member_add(team=team, actor=request.user, **form.cleaned_data)
    except ValidationError as error:
        return _refused(request, team, f"Nobody was added. {_problems(error=error)}", member_form=form)
    messages.success(request, f"{form.cleaned_data['user'].username} is now in {team.name}.")
    return redirect("team-detail", slug=team.slug)


@login_required
@require_POST
def team_member_roles(request, slug):
    team = _visible_team(request.user, slug)
    form = RolesForm(request.POST)
    if not form.is_valid():
        return _refused(request, team, f"Nothing changed. {_problems(form)}")
    try:
        changed = teams.team_member_roles_set(team=team, actor=request.user, **form.cleaned_data)
    except ValidationError as error:
        return _refused(request, team, f"Nothing changed. {_problems(error=error)}")
    who = form.cleaned_data["user"].username
    messages.success(request, f"{who}'s roles in {team.name} are saved." if changed else "Nothing changed.")
    return redirect("team-detail", slug=team.slug)


@login_required
@require_POST
def team_member_remove(request, slug):
    team = _visible_team(request.user, slug)
    form = RemoveForm(request.POST)
    if not form.is_valid():
        return _refused(request, team, f"Nobody was removed. {_problems(form)}")
    try:
        teams.team_member_remove(team=team, user=form.cleaned_data["user"], actor=request.user)
    except ValidationError as error:
        return _refused(request, team, f"Nobody was removed. {_problems(error=error)}")
    messages.success(request, f"{form.cleaned_data['user'].username} is no longer in {team.name}.")
    return redirect("team-detail", slug=team.slug)


@login_required
@require_POST
def team_model_grant(request, slug):
    team = _visible_team(request.user, slug)
    form = GrantForm(request.POST)
    if not form.is_valid():
        return _refused(request, team, f"No access was given. {_problems(form)}")
    model = form.cleaned_data["model"]
    if model.team_id != team.pk:
        return _refused(request, team, f"{model.name} is not one of {team.name}'s models.")
    if not request.user.is_superuser:
        raise PermissionDenied("Only administrators grant access to models.")
    registry_services.model_permission_set(
        model=model, grantee=form.cleaned_data["grantee"], granted=True, actor=request.user
    )
    messages.success(request, f"Access to {model.name} is given.")
    return redirect("team-detail", slug=team.slug)
