"""WEBHOOK_SECRETS_KEY: its keys, checked when settings load, and the development key file."""

import os
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured


def fernet_keys(setting: str) -> list[Fernet]:
    """The comma-separated keys of the setting, in order; a clear error for anything else."""
    keys = [key.strip() for key in setting.split(",") if key.strip()]
    if not keys:
        raise ImproperlyConfigured("WEBHOOK_SECRETS_KEY is empty: it needs at least one Fernet key")
    try:
        return [Fernet(key) for key in keys]
    except ValueError:
        raise ImproperlyConfigured(
            "WEBHOOK_SECRETS_KEY must be comma-separated Fernet keys (32 url-safe base64-encoded bytes each, "
            "as made by cryptography.fernet.Fernet.generate_key())"
        ) from None


def development_secrets_key(path: Path) -> str:
    """The key kept in `path` (mode 0600), made on first use so development needs no configuration.

    Written under a temporary name and linked into place: processes starting together
    (web, worker, beat) all end up with the one key that won.
    """
    if not path.exists():
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(Fernet.generate_key().decode("ascii"))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip()
