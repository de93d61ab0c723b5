"""Endpoints: the list with health, add, edit, and one endpoint with its actions."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from deliveries import services as delivery_services
from webhooks import services
from webhooks.serializers import WebhookEndpointUpdateSerializer

from ..forms import EndpointEditForm, EndpointForm, RotateSecretForm, TestEventForm
from ..security import portal_session_required
from ..selectors import portal_endpoint, portal_endpoint_with_health, portal_endpoints_with_health
from . import page

RECENT_DELIVERIES = 10


@portal_session_required
def endpoint_list(request):
    endpoints = portal_endpoints_with_health(request.portal_business, page_number=request.GET.get("page"))
    return page(request, "portal/endpoint_list.html", {"rows": endpoints.object_list, "page_of": endpoints,
                                                       "nav": "endpoints"})


@require_http_methods(["GET", "POST"])
@portal_session_required
def endpoint_create(request):
    form = EndpointForm(request.POST or None, initial={"events": ["*"]})
    if request.method == "POST" and form.is_valid():
        data = form.validated_data
        endpoint = services.webhook_endpoint_register(
            business=request.portal_business, url=data["url"], events=data["events"],
            description=data.get("description", ""),
        )
        messages.success(request, "Endpoint added. Send it a test event to check it receives and verifies them.")
        return redirect("portal:endpoint", endpoint_id=endpoint.pk)
    return page(
        request, "portal/endpoint_form.html", {"form": form, "nav": "endpoints"}, status=400 if form.errors else 200
    )


@require_http_methods(["GET", "POST"])
@portal_session_required
def endpoint_edit(request, endpoint_id):
    endpoint = portal_endpoint(request.portal_business, endpoint_id)
    initial = {"url": endpoint.url, "events": endpoint.events, "description": endpoint.description}
    form = EndpointEditForm(request.POST or None, instance=endpoint, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.webhook_endpoint_update(endpoint=endpoint, **form.validated_data)
        messages.success(request, "Endpoint saved.")
        return redirect("portal:endpoint", endpoint_id=endpoint.pk)
    context = {"form": form, "endpoint": endpoint, "nav": "endpoints"}
    return page(request, "portal/endpoint_form.html", context, status=400 if form.errors else 200)


@portal_session_required
def endpoint_detail(request, endpoint_id):
    return _detail_page(request, portal_endpoint(request.portal_business, endpoint_id))


def _detail_page(request, endpoint, *, status: int = 200, **overrides):
    """One endpoint: its health, secret, actions and latest deliveries; `overrides` replace
    parts of the context (a revealed secret, a form with its errors)."""
    context = {
        "endpoint": endpoint,
        "stats": portal_endpoint_with_health(endpoint),
        "recent": endpoint.deliveries.select_related("event")[:RECENT_DELIVERIES],
        "revealed_secret": None,
        "rotate_form": RotateSecretForm(),
        "test_form": TestEventForm(),
        "nav": "endpoints",
        **overrides,
    }
    return page(request, "portal/endpoint_detail.html", context, status=status)


@require_POST
@portal_session_required
def endpoint_reveal(request, endpoint_id):
    """The secret, in this one answer (POST: never in a URL, never cached)."""
    endpoint = portal_endpoint(request.portal_business, endpoint_id)
    return _detail_page(request, endpoint, revealed_secret=endpoint.secret)


@require_POST
@portal_session_required
def endpoint_rotate(request, endpoint_id):
    endpoint = portal_endpoint(request.portal_business, endpoint_id)
    form = RotateSecretForm(request.POST)
    if not form.is_valid():
        return _detail_page(request, endpoint, rotate_form=form, status=400)
    endpoint = services.webhook_endpoint_rotate_secret(endpoint=endpoint, **form.validated_data)
    context = {"endpoint": endpoint, "grace_seconds": form.validated_data["grace_seconds"], "nav": "endpoints"}
    return page(request, "portal/secret_rotated.html", context)


@require_POST
@portal_session_required
def endpoint_send_test(request, endpoint_id):
    endpoint = portal_endpoint(request.portal_business, endpoint_id)
    form = TestEventForm(request.POST)
    if not form.is_valid():
        return _detail_page(request, endpoint, test_form=form, status=400)
    try:
        delivery_services.endpoint_require_active(endpoint)
    except delivery_services.ActionRefused as refused:
        messages.error(request, str(refused))
        return redirect("portal:endpoint", endpoint_id=endpoint.pk)
    delivery = delivery_services.event_send_test(endpoint=endpoint, event_type=form.validated_data["event"])
    messages.success(request, f"Test {delivery.event.type} event sent.")
    return redirect("portal:delivery", delivery_id=delivery.pk)


@require_POST
@portal_session_required
def endpoint_set_active(request, endpoint_id):
    endpoint = portal_endpoint(request.portal_business, endpoint_id)
    serializer = WebhookEndpointUpdateSerializer(
        endpoint, data={"is_active": request.POST.get("is_active")}, partial=True
    )
    if serializer.is_valid():
        endpoint = services.webhook_endpoint_update(endpoint=endpoint, **serializer.validated_data)
        messages.success(
            request, "Endpoint enabled." if endpoint.is_active else "Endpoint disabled: it gets nothing until enabled."
        )
    else:
        messages.error(request, "; ".join(serializer.errors.get("is_active", ["Invalid request."])))
    return redirect("portal:endpoint", endpoint_id=endpoint.pk)


@require_http_methods(["GET", "POST"])
@portal_session_required
def endpoint_delete(request, endpoint_id):
    endpoint = portal_endpoint(request.portal_business, endpoint_id)
    if request.method == "POST":
        services.webhook_endpoint_delete(endpoint=endpoint)
        messages.success(request, f"Endpoint {endpoint.url} deleted: nothing more is sent to it.")
        return redirect("portal:endpoints")
    return page(request, "portal/endpoint_delete.html", {"endpoint": endpoint, "nav": "endpoints"})
