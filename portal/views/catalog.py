import json

from webhooks.event_types import catalog

from ..security import portal_session_required
from . import page


@portal_session_required
def event_catalog(request):
    event_types = [
        {
            **entry,
            "schema_json": json.dumps(entry["schema"], indent=2),
            "example_json": json.dumps(entry["example"], indent=2),
        }
        for entry in catalog()
    ]
    return page(request, "portal/event_catalog.html", {"event_types": event_types, "nav": "catalog"})
