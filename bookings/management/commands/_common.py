"""Shared by the operator commands: one JSON object on stdout, clear errors on stderr."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError


def print_json(command: BaseCommand, obj: dict) -> None:
    command.stdout.write(json.dumps(obj))


def get_by_id(model, pk: str, noun: str):
    try:
        return model.objects.get(pk=pk)
    except (model.DoesNotExist, ValidationError, ValueError):
        raise CommandError(f"No {noun} with id {pk}.") from None
