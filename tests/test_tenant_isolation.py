"""Tenant isolation as a property of the URL map (CONTRACT §3: another tenant's object is 404).

The routes are discovered from Django's resolver, not listed here: every /api/v1/ route
with an id in its path, called with every method it allows, with the id of an object
that belongs to someone else, must answer 404 with the JSON error body and change
nothing in the database. A new id-bearing route is covered as soon as it exists; one
whose id this file does not know how to make a foreign object for fails the suite.
"""

import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from bookings.models import Business
from deliveries.models import Delivery
from deliveries.services import event_send_test
from webhooks import event_types
from webhooks.services import webhook_endpoint_create

API_PREFIX = "api/v1/"
NOT_CALLED = {"head", "options"}  # HEAD is GET without a body; OPTIONS describes the route, not an object
# Sent with every POST/PATCH/PUT: valid for each id-bearing action (serializers ignore the
# rest), so a call that reached the object would change it: reschedule a booking, disable
# a webhook, rotate its secret, send a test event, recover failed deliveries.
MUTATING_BODY = {
    "starts_at": "2027-01-05T10:00:00+00:00",
    "ends_at": "2027-01-05T11:00:00+00:00",
    "is_active": False,
    "description": "changed by another tenant",
    "grace_seconds": 0,
    "event": "booking.created",
    "since": "2000-01-01T00:00:00+00:00",
}


# --- The routes, from the resolver --------------------------------------------------


@dataclass(frozen=True)
class Route:
    text: str  # the pattern as written, for messages: "api/v1/^webhooks/(?P<pk>[^/.]+)$"
    name: str | None  # namespaced, for reverse()
    callback: Callable
    kwargs: tuple[str, ...]

    @property
    def resource(self) -> str:
        """The first path segment under /api/v1/: "bookings", "webhooks", "deliveries"."""
        return self.text.removeprefix(API_PREFIX).replace("^", "").split("/", 1)[0]

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(method for method in allowed_methods(self.callback) if method not in NOT_CALLED)

    def url(self, ids: dict[str, str]) -> str:
        if self.name is None:
            pytest.fail(f"Route {self.text} has no name: name it so this test can build its URL.")
        url = reverse(self.name, kwargs=ids)
        assert resolve(url).func is self.callback, f"reverse({self.name!r}) did not lead back to {self.text}"
        return url


def allowed_methods(callback: Callable) -> list[str]:
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    declared = getattr(view_class, "http_method_names", ["get", "post", "put", "patch", "delete"])
    actions = getattr(callback, "actions", None)  # a DRF viewset route: {"get": "retrieve", ...}
    if actions is not None:
        return [method for method in actions if method in declared]
    return [method for method in declared if view_class is None or hasattr(view_class, method)]


def walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        text = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, text, inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else None
            yield Route(text, name, entry.callback, tuple(entry.pattern.regex.groupindex))


def api_routes_with_ids() -> list[Route]:
    # Each level's own groups are enough here: the prefixes above the API's views carry no ids.
    routes = [route for route in walk(get_resolver().url_patterns) if route.text.startswith(API_PREFIX)]
    return [route for route in routes if route.kwargs]


# --- How to make another tenant's object for each id in a path ----------------------


@dataclass
class ForeignObjects:
    """Objects of one owner (a business or a hub) that the caller must not reach."""

    booking: object
    webhook: object
    delivery: object


@dataclass(frozen=True)
class IdRecipe:
    foreign_id: Callable[[ForeignObjects], object]
    random_id: Callable[[], str]
    business_keys_only: bool = False  # CONTRACT §4: a hub key gets 403 here, whatever the id


def random_uuid() -> str:
    return str(uuid.uuid4())


def random_delivery_id() -> str:
    return "dlv_" + secrets.token_hex(16)


# (first path segment, URL kwarg) -> how to get an id of another tenant's object.
RECIPES = {
    ("bookings", "pk"): IdRecipe(lambda objects: objects.booking.id, random_uuid, business_keys_only=True),
    ("webhooks", "pk"): IdRecipe(lambda objects: objects.webhook.id, random_uuid),
    ("webhooks", "webhook_id"): IdRecipe(lambda objects: objects.webhook.id, random_uuid),
    ("deliveries", "pk"): IdRecipe(lambda objects: objects.delivery.id, random_delivery_id),
}


def recipe(route: Route, kwarg: str) -> IdRecipe:
    found = RECIPES.get((route.resource, kwarg))
    if found is None:
        pytest.fail(
            f"New id-bearing route {route.text} (id {kwarg!r} under /{route.resource}): add a recipe to "
            f"RECIPES in {__name__} that makes another tenant's object for it, so its isolation is tested."
        )
    return found


def make_foreign_objects(owner, booking_owner, make_booking) -> ForeignObjects:
    """owner's webhook with a failed delivery (redeliverable), and a booking of booking_owner."""
    webhook = webhook_endpoint_create(
        owner=owner.api_key, url="https://victim.example.com/hooks", events=list(event_types.EVENT_TYPES)
    )
    delivery = event_send_test(endpoint=webhook, event_type="booking.created")
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.FAILED)
    return ForeignObjects(booking=make_booking(booking_owner), webhook=webhook, delivery=delivery)


# --- The scenarios: who calls, whose objects ------------------------------------------


@dataclass
class Scenario:
    caller: object  # a conftest Tenant
    foreign: ForeignObjects


def business_vs_another_business(make_business, make_hub, make_booking) -> Scenario:
    caller, other = make_business("Acme Wash"), make_business("Rival Wash")
    return Scenario(caller, make_foreign_objects(other, other, make_booking))


def hub_vs_a_business_outside_the_hub(make_business, make_hub, make_booking) -> Scenario:
    caller = make_hub("North Hub")
    make_business("North Member", hub=caller.hub)
    outsider = make_business("Outside Wash")
    return Scenario(caller, make_foreign_objects(outsider, outsider, make_booking))


def business_in_a_hub_vs_its_hubs_own_webhook(make_business, make_hub, make_booking) -> Scenario:
    hub = make_hub("North Hub")
    caller = make_business("North Member", hub=hub.hub)
    sibling = make_business("North Sibling", hub=hub.hub)  # the hub has no bookings of its own
    return Scenario(caller, make_foreign_objects(hub, sibling, make_booking))


def hub_vs_another_hub(make_business, make_hub, make_booking) -> Scenario:
    caller, other = make_hub("North Hub"), make_hub("South Hub")
    member = make_business("South Member", hub=other.hub)
    return Scenario(caller, make_foreign_objects(other, member, make_booking))


SCENARIOS = [
    business_vs_another_business,
    hub_vs_a_business_outside_the_hub,
    business_in_a_hub_vs_its_hubs_own_webhook,
    hub_vs_another_hub,
]


@pytest.fixture(params=SCENARIOS, ids=lambda build: build.__name__)
def scenario(request, make_business, make_hub, make_booking) -> Scenario:
    return request.param(make_business, make_hub, make_booking)


# --- Calling and judging -----------------------------------------------------------


def call(client, method: str, url: str):
    if method in {"post", "patch", "put"}:
        return getattr(client, method)(url, MUTATING_BODY, format="json")
    return getattr(client, method)(url)


def expected_answer(route: Route, caller) -> tuple[int, str]:
    refuses_hub_keys = any(recipe(route, kwarg).business_keys_only for kwarg in route.kwargs)
    if caller.hub is not None and refuses_hub_keys:
        return 403, "business_key_required"
    return 404, "not_found"


def answer_problem(response, expected: tuple[int, str]) -> str | None:
    status, code = expected
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} without the JSON error body: {response.content[:200]!r}"
    if response.status_code != status or error.get("code") != code or not isinstance(error.get("message"), str):
        return f"{response.status_code} {response.content[:300]!r}, expected {status} {code}"
    return None


VOLATILE_FIELDS = {"bookings.ApiKey": {"last_used_at"}}  # authentication touches it (bookings/api_keys.py)


def database_state() -> dict[str, list[dict]]:
    """Every row of the project's own apps, to prove a refused call changed nothing."""
    state = {}
    for app in ("bookings", "webhooks", "deliveries"):
        for model in apps.get_app_config(app).get_models():
            volatile = VOLATILE_FIELDS.get(model._meta.label, set())
            rows = [{k: v for k, v in row.items() if k not in volatile} for row in model.objects.values()]
            state[model._meta.label] = sorted(rows, key=lambda row: str(row[model._meta.pk.attname]))
    return state


def changed_tables(before: dict, after: dict) -> list[str]:
    return [label for label in before if before[label] != after[label]]


def problems_calling_every_route(caller, make_id: Callable[[IdRecipe], object]) -> list[str]:
    """Each id-bearing route and method, with ids from make_id: what answered or changed wrongly."""
    problems = []
    for route in api_routes_with_ids():
        url = route.url({kwarg: str(make_id(recipe(route, kwarg))) for kwarg in route.kwargs})
        for method in route.methods:
            before = database_state()
            response = call(caller.client, method, url)
            problem = answer_problem(response, expected_answer(route, caller))
            if problem:
                problems.append(f"{method.upper()} {url} ({route.text}): {problem}")
            if changed := changed_tables(before, database_state()):
                problems.append(f"{method.upper()} {url} ({route.text}) changed {', '.join(changed)}")
    return problems


# --- The tests ---------------------------------------------------------------------


def test_every_id_bearing_api_route_has_a_recipe_for_a_foreign_id():
    routes = api_routes_with_ids()

    used = {(route.resource, kwarg) for route in routes for kwarg in route.kwargs if recipe(route, kwarg)}

    assert routes, "no id-bearing route found under /api/v1/: the resolver walk is broken"
    assert used == set(RECIPES), f"recipes no route uses (renamed or removed?): {set(RECIPES) - used}"
    assert all(route.methods for route in routes), "a route with no callable method: allowed_methods is broken"


def test_another_tenants_id_is_not_found_on_every_id_bearing_route(scenario):
    problems = problems_calling_every_route(scenario.caller, lambda recipe: recipe.foreign_id(scenario.foreign))

    assert not problems, "another tenant's object was reachable:\n" + "\n".join(problems)


@pytest.mark.parametrize("key_kind", ["business", "hub"])
def test_a_random_id_is_not_found_on_every_id_bearing_route(key_kind, make_business, make_hub):
    caller = make_business("Acme Wash") if key_kind == "business" else make_hub("North Hub")

    problems = problems_calling_every_route(caller, lambda recipe: recipe.random_id())

    assert not problems, "a random id did not answer 404:\n" + "\n".join(problems)


def test_the_foreign_objects_are_reachable_by_their_owner(make_business, make_booking):
    """The control: the same calls with the owner's key do reach the objects (so a 404 means isolation)."""
    owner = make_business("Rival Wash", plan=Business.Plan.GROWTH_PRO)
    objects = make_foreign_objects(owner, owner, make_booking)
    urls = {
        route.url({kwarg: str(recipe(route, kwarg).foreign_id(objects)) for kwarg in route.kwargs})
        for route in api_routes_with_ids()
        if "get" in route.methods
    }

    answers = {url: owner.client.get(url).status_code for url in urls}

    assert urls and all(status == 200 for status in answers.values()), answers
