"""The API's newest-first lists read a page from an index in the cursor's order (PostgreSQL).

Without one, every page sorts all of the business's rows; with a matching index it reads
the page's rows and stops. Sorting is switched off in the planner so that the plan of a
small test table shows which of the two the index allows.
"""

import pytest
from django.db import connection

from bookings.views import BookingViewSet
from calendence.pagination import NewestFirstCursorPagination
from webhooks.views import WebhookEndpointViewSet

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="these are PostgreSQL query plans")


def page_plan(viewset_class, api_key) -> str:
    pagination = NewestFirstCursorPagination
    listed = viewset_class(action="list").scoped_queryset(api_key)  # as the list action asks
    page = listed.order_by(*pagination.ordering)[: pagination.page_size + 1]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")  # for this test's transaction only
    return page.explain()


@pytest.mark.parametrize(("viewset_class", "index"), [
    (WebhookEndpointViewSet, "webhook_endpoint_list"),
    (BookingViewSet, "booking_list"),
])
def test_a_page_of_a_business_list_is_read_from_its_index_without_a_sort(tenant, viewset_class, index):
    plan = page_plan(viewset_class, tenant.api_key)

    assert f"using {index}" in plan and "Sort" not in plan, plan
