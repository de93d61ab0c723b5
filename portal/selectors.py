"""Reads behind the portal's pages, all scoped to the session's business."""

from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from bookings.models import Business
from deliveries.models import Delivery, DeliveryAttempt
from deliveries.selectors import EndpointHealth, health_window, webhook_endpoints_health, webhook_endpoints_hourly
from webhooks.models import WebhookEndpoint
from webhooks.selectors import webhook_endpoints_of_business

from .charts import HourlyChart, hourly_chart

# Endpoints on a page of the list: each card carries its health and chart, so a business
# with hundreds of endpoints gets pages, not one page a megabyte long.
ENDPOINTS_PER_PAGE = 25


@dataclass(frozen=True)
class EndpointWithHealth:
    endpoint: WebhookEndpoint
    health: EndpointHealth
    chart: HourlyChart


def portal_endpoint(business: Business, endpoint_id) -> WebhookEndpoint:
    return get_object_or_404(webhook_endpoints_of_business(business.pk), pk=endpoint_id)


def portal_endpoints_with_health(business: Business, *, page_number=1, now: datetime | None = None) -> Page:
    """A page of the business's endpoints (newest first), each with its last 24 hours: the same
    few queries whatever the page holds. Its object_list is of EndpointWithHealth."""
    since, until = health_window(now)
    page = Paginator(webhook_endpoints_of_business(business.pk), ENDPOINTS_PER_PAGE).get_page(page_number)
    endpoints = list(page.object_list)
    ids = [endpoint.pk for endpoint in endpoints]
    health = webhook_endpoints_health(ids, since=since, until=until)
    hourly = webhook_endpoints_hourly(ids, since=since, until=until)
    page.object_list = [EndpointWithHealth(e, health[e.pk], hourly_chart(hourly[e.pk])) for e in endpoints]
    return page


def portal_endpoint_with_health(endpoint: WebhookEndpoint) -> EndpointWithHealth:
    since, until = health_window()
    health = webhook_endpoints_health([endpoint.pk], since=since, until=until)[endpoint.pk]
    hourly = webhook_endpoints_hourly([endpoint.pk], since=since, until=until)[endpoint.pk]
    return EndpointWithHealth(endpoint, health, hourly_chart(hourly))


def portal_delivery_log(endpoint: WebhookEndpoint, *, filters: dict) -> QuerySet[Delivery]:
    """The endpoint's deliveries matching the log's filters, attempts prefetched (one query a page)."""
    deliveries = Delivery.objects.filter(endpoint=endpoint).select_related("event")
    if filters.get("status"):
        deliveries = deliveries.filter(status=filters["status"])
    if filters.get("event"):
        deliveries = deliveries.filter(event__type=filters["event"])
    if filters.get("event_id"):
        deliveries = deliveries.filter(event_id=filters["event_id"].strip())
    if filters.get("since"):
        deliveries = deliveries.filter(created_at__gte=filters["since"])
    if filters.get("until"):
        deliveries = deliveries.filter(created_at__lt=filters["until"])
    return deliveries.prefetch_related(Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("number")))


def portal_delivery(business: Business, delivery_id: str) -> Delivery:
    """One delivery to one of the business's endpoints, with its event, endpoint and attempts."""
    deliveries = (
        Delivery.objects.filter(endpoint__in=webhook_endpoints_of_business(business.pk))
        .select_related("event", "endpoint")
        .prefetch_related(Prefetch("attempts", queryset=DeliveryAttempt.objects.order_by("number")))
    )
    return get_object_or_404(deliveries, pk=delivery_id)
