"""Webhooks in the admin: endpoints added and changed through their services (audited, the
secret shown once); deliveries read-only, each with its attempts and last answer, sent again with
the "Send again" action."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from config.admin import ReadOnlyAdmin
from webhooks import services
from webhooks.models import EVENTS, WebhookDelivery, WebhookEndpoint


class EndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=EVENTS, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events", "active"]

    def clean(self):
        cleaned = super().clean()
        try:
            services._clean(cleaned.get("url") or "", cleaned.get("events") or [], cleaned.get("description") or "")
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from None
        return cleaned


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["url", "active", "created_at"]
    readonly_fields = ["created_by", "created_at"]

    def has_delete_permission(self, request, obj=None):
        return False  # stop it instead (active off): its deliveries stay readable

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            services.webhook_endpoint_update(
                endpoint=obj, url=data["url"], events=data["events"], active=data["active"], actor=request.user,
                description=data["description"],
            )  # fmt: skip
            return
        endpoint, secret = services.webhook_endpoint_create(
            url=data["url"], events=data["events"], description=data["description"], actor=request.user
        )
        obj.pk = endpoint.pk
        messages.warning(request, f"The endpoint's secret, shown only now: {secret}")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "event", "endpoint", "status", "attempts", "response_status"]
    list_filter = ["status", "event"]
    list_select_related = ["endpoint"]
    actions = ["send_again"]

    @admin.action(description="Send again")
    def send_again(self, request, queryset):
        for delivery in queryset:
            services.webhook_delivery_replay(delivery=delivery, actor=request.user)
        messages.success(request, f"{queryset.count()} delivery(ies) will be sent again.")
