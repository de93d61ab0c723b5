"""The development WEBHOOK_SECRETS_KEY: made once under the var dir, reused on every start."""

import os
from pathlib import Path

from cryptography.fernet import Fernet


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
