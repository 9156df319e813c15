from django.urls import path

from mlflow_link import views

urlpatterns = [path("mlflow/webhooks/<int:connection_id>/", views.mlflow_webhook, name="mlflow-webhook")]
