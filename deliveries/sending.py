"""What travels between claiming, sending and logging: one claimed attempt, and its answer."""

from dataclasses import dataclass

from .concurrency import Slot
from .models import Delivery, DeliveryAttempt
from .transport import AttemptResult


@dataclass(frozen=True)
class Sending:
    """One attempt, claimed and recorded: everything needed to send it and log the answer."""

    delivery: Delivery
    attempt: DeliveryAttempt
    body: bytes
    slot: Slot

    @property
    def headers(self) -> dict[str, str]:
        return self.attempt.request_headers

    @property
    def url(self) -> str:
        return self.delivery.endpoint.url

    @property
    def endpoint_id(self) -> str:
        return self.delivery.endpoint_id


# An attempt and the answer it got, ready to be logged.
Finished = tuple[Sending, AttemptResult]
