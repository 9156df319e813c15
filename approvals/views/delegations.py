"""Out of office: name a delegate, see who stands in for you and for whom you stand in, revoke."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from approvals import delegations, selectors
from approvals.forms import DelegationForm
from config.pages import form_errors_from


def _page(request, form, status=200):
    return render(
        request,
        "delegations.html",
        {
            "form": form,
            "given": selectors.delegations_given(user=request.user),
            "held": selectors.delegations_held(user=request.user),
        },
        status=status,
    )


@login_required
def delegation_list(request):
    return _page(request, DelegationForm(user=request.user))


@login_required
@require_POST
def delegation_create(request):
    form = DelegationForm(request.POST, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            made = delegations.delegation_create(
                principal=request.user, delegate=data["delegate"], starts_at=data["starts_at"],
                ends_at=data["ends_at"], reason=data["reason"], actor=request.user, models=list(data["models"]),
                roles=list(data["roles"]),
            )  # fmt: skip
        except ValidationError as error:
            form_errors_from(form, error)
        else:
            messages.success(request, f"{made.delegate.username} decides for you until {made.ends_at:%d %b %Y, %H:%M}.")
            return redirect("delegation-list")
    return _page(request, form, status=400)


@login_required
@require_POST
def delegation_revoke(request, pk):
    delegation = selectors.delegation_given(user=request.user, pk=pk)
    delegations.delegation_revoke(delegation=delegation, actor=request.user)
    messages.success(request, f"{delegation.delegate.username} no longer decides for you.")
    return redirect("delegation-list")
