from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _forget_permission_ids(**kwargs):
    from registry.permissions import view_permission_id

    view_permission_id.cache_clear()


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Model registry"

    def ready(self):
        # migrate (and a test's flush) may recreate permissions with new ids
        post_migrate.connect(_forget_permission_ids, dispatch_uid="registry.forget_permission_ids")
