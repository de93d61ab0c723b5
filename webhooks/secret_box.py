"""Signing secrets at rest: Fernet tokens under WEBHOOK_SECRETS_KEY.

The setting holds comma-separated Fernet keys: the first encrypts, every one decrypts, so a
new key can be put in front, the secrets re-encrypted (`manage.py reencrypt_secrets`), and
the old key dropped.
"""

from functools import lru_cache

from cryptography.fernet import InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import models

from calendence.secrets_key import fernet_keys


class UndecryptableSecret(ImproperlyConfigured):
    """A stored secret that none of the configured keys opens."""


@lru_cache(maxsize=4)
def _box(keys_setting: str) -> MultiFernet:
    return MultiFernet(fernet_keys(keys_setting))


def secrets_box() -> MultiFernet:
    """The keys of the current settings (read on every call, so an override takes effect)."""
    return _box(settings.WEBHOOK_SECRETS_KEY)


def encrypt_secret(secret: str) -> str:
    return secrets_box().encrypt(secret.encode("utf-8")).decode("ascii")


def decrypt_secret(token: str) -> str:
    try:
        return secrets_box().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeEncodeError):
        raise UndecryptableSecret(
            "A webhook signing secret cannot be decrypted with any key in WEBHOOK_SECRETS_KEY: the key it was "
            "encrypted with is missing (keep the old key after the new one until reencrypt_secrets has run)"
        ) from None


class EncryptedSecretField(models.TextField):
    """A secret that Python code reads and writes in clear and the database holds encrypted.

    An empty value stays empty, so "no previous secret" needs no key to read. Filtering on
    it is refused: each encryption makes a different token, so a match would silently fail.
    """

    def get_lookup(self, lookup_name):
        if lookup_name != "isnull":
            raise FieldError(f"{self.name} is stored encrypted and cannot be filtered on (only isnull)")
        return super().get_lookup(lookup_name)

    def from_db_value(self, value, expression, connection):
        return decrypt_secret(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt_secret(value) if value else value

