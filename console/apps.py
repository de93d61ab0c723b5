from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The operators' console: Django admin, with delivery health across the apps, and an overview."""

    name = "console"
    verbose_name = "Console"
