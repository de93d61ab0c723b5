"""Cached API keys (bookings/api_key_cache.py) dropped whenever what they hold changes, whoever
writes (the API, the admin, a command, a shell): a key saved or deleted, its business saved
(its plan and hub decide what the key may do; deleting it deletes its keys), or its hub
deleted (its businesses leave the hub by an UPDATE that sends no signal).

QuerySet.update() sends no signals either: the models' own QuerySets drop the entries for it.
"""

from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from .api_key_cache import api_key_cache_drop
from .models import ApiKey, Business, Hub


@receiver(post_save, sender=ApiKey, dispatch_uid="bookings.drop_cached_key_on_save")
@receiver(post_delete, sender=ApiKey, dispatch_uid="bookings.drop_cached_key_on_delete")
def drop_cached_key(sender, instance: ApiKey, created: bool = False, **kwargs):
    if not created:  # a new key has never been looked up, so never cached
        api_key_cache_drop([instance.key_hash])


@receiver(post_save, sender=Business, dispatch_uid="bookings.drop_cached_keys_of_business")
def drop_cached_keys_of_business(sender, instance: Business, created: bool, **kwargs):
    if not created:
        api_key_cache_drop(ApiKey.objects.filter(business=instance).values_list("key_hash", flat=True))


@receiver(pre_delete, sender=Hub, dispatch_uid="bookings.drop_cached_keys_of_hub_businesses")
def drop_cached_keys_of_hub_businesses(sender, instance: Hub, **kwargs):
    api_key_cache_drop(ApiKey.objects.filter(business__hub=instance).values_list("key_hash", flat=True))
