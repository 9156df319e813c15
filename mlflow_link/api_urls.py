from django.urls import path

from mlflow_link import views

urlpatterns = [path("models/<str:name>/mlflow/", views.ModelMlflowView.as_view(), name="api-model-mlflow")]
