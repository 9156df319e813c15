"""The e-mail about a drift incident, to the model's IT engineers and managers who can see it."""

import smtplib
import socket

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from jobs.runner import TransientError
from mlflow_link.models import DriftIncident
from notifications.services import render_message
from registry import permissions as registry_permissions
from registry.roles import IT_ENGINEER, MANAGER, holders


def drift_recipients(model) -> list:
    people = get_user_model().objects.filter(holders([IT_ENGINEER, MANAGER], model.team_id), is_active=True)
    return [
        user
        for user in people.exclude(email="").distinct().order_by("username")
        if registry_permissions.can(user, registry_permissions.VIEW, model)
    ]


def drift_mail_send(*, incident_id: int) -> None:
    incident = DriftIncident.objects.select_related("connection__model").filter(pk=incident_id).first()
    if incident is None or incident.emailed_at is not None:
        return
    connection = incident.connection
    model = connection.model
    context = {
        "incident": incident,
        "connection": connection,
        "model": model,
        "model_url": f"{settings.SIGNOFF_BASE_URL}{model.get_absolute_url()}",
        "request_url": f"{settings.SIGNOFF_BASE_URL}{model.get_absolute_url()}",  # the button of emails/_base.html
        "settings_url": f"{settings.SIGNOFF_BASE_URL}/profile/email/",
    }
    try:
        for recipient in drift_recipients(model):
            render_message("emails/production_drift", {**context, "recipient": recipient}, recipient).send()
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, socket.timeout, ConnectionError) as error:
        raise TransientError(f"the mail server is away: {error}") from error
    DriftIncident.objects.filter(pk=incident.pk).update(emailed_at=timezone.now())
