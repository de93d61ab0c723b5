"""The delivery log, one delivery, redelivering one, and recovering many."""

import json

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.request import Request

from calendence.pagination import NewestFirstCursorPagination
from deliveries import services
from deliveries.models import Delivery
from deliveries.selectors import deliveries_failed_since

from ..forms import DeliveryFilterForm, RecoverForm
from ..security import portal_session_required
from ..selectors import portal_delivery, portal_delivery_log, portal_endpoint
from . import page


class DeliveryLogPagination(NewestFirstCursorPagination):
    """The API's cursor pagination (stable under new deliveries), keeping the page's filters in its links."""

    page_size = 25


@portal_session_required
def delivery_log(request, endpoint_id):
    endpoint = portal_endpoint(request.portal_business, endpoint_id)
    filters = DeliveryFilterForm(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    paginator = DeliveryLogPagination()
    deliveries = paginator.paginate_queryset(portal_delivery_log(endpoint, filters=chosen), Request(request))
    context = {
        "endpoint": endpoint, "filters": filters, "deliveries": deliveries,
        "next_url": paginator.get_next_link(), "previous_url": paginator.get_previous_link(), "nav": "endpoints",
    }
    return page(request, "portal/delivery_log.html", context, status=400 if filters.errors else 200)


@portal_session_required
def delivery_detail(request, delivery_id):
    delivery = portal_delivery(request.portal_business, delivery_id)
    context = {
        "delivery": delivery,
        "endpoint": delivery.endpoint,
        "attempts": list(delivery.attempts.all()),
        "request_body": _pretty_json(delivery.event.body),
        "pending": delivery.status == Delivery.Status.PENDING,
        "nav": "endpoints",
    }
    return page(request, "portal/delivery_detail.html", context)


@require_POST
@portal_session_required
def delivery_redeliver(request, delivery_id):
    delivery = portal_delivery(request.portal_business, delivery_id)
    try:
        services.endpoint_require_active(delivery.endpoint)
        services.delivery_require_settled(delivery)
    except services.ActionRefused as refused:
        messages.error(request, str(refused))
    else:
        services.deliveries_redeliver(Delivery.objects.filter(pk=delivery.pk))
        messages.success(request, "Redelivery started: a fresh series of attempts, same event and delivery id.")
    return redirect("portal:delivery", delivery_id=delivery.pk)


@require_http_methods(["GET", "POST"])
@portal_session_required
def endpoint_recover(request, endpoint_id):
    """GET with a time: how many failed deliveries would go again. POST: send them."""
    endpoint = portal_endpoint(request.portal_business, endpoint_id)
    form = RecoverForm(request.POST if request.method == "POST" else request.GET or None)
    context = {"endpoint": endpoint, "form": form, "nav": "endpoints"}
    if not form.is_bound or not form.is_valid():
        return page(request, "portal/recover.html", context, status=400 if form.errors else 200)
    since = form.validated_data["since"]
    try:
        services.endpoint_require_active(endpoint)
    except services.ActionRefused as refused:
        return page(request, "portal/recover.html", {**context, "refused": str(refused)}, status=409)
    if request.method == "GET":
        count = deliveries_failed_since(endpoint, since=since).count()
        return page(request, "portal/recover.html", {**context, "since": since, "count": count})
    count = services.deliveries_recover(endpoint=endpoint, since=since)
    messages.success(request, f"{count} failed deliveries since {since:%Y-%m-%d %H:%M:%S %Z} are being redelivered.")
    return redirect("portal:deliveries", endpoint_id=endpoint.pk)


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text
