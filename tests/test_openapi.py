"""The OpenAPI document: served publicly, generated without warnings, complete and honest about errors."""

import json

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.management.commands.spectacular import SchemaGenerationError

ROUTES = {
    "/api/v1/locations": {"get", "post"},
    "/api/v1/services": {"get", "post"},
    "/api/v1/bookings": {"get", "post"},
    "/api/v1/bookings/{id}": {"get", "patch"},
    "/api/v1/bookings/{id}/cancel": {"post"},
    "/api/v1/bookings/{id}/complete": {"post"},
    "/api/v1/webhooks": {"get", "post"},
    "/api/v1/webhooks/{id}": {"get", "delete"},
    "/api/v1/webhooks/{webhook_id}/deliveries": {"get"},
    "/api/v1/deliveries/{id}": {"get"},
    "/api/v1/deliveries/{id}/redeliver": {"post"},
}
WEBHOOK_OPERATIONS = [
    ("/api/v1/webhooks", "get"),
    ("/api/v1/webhooks", "post"),
    ("/api/v1/webhooks/{id}", "get"),
    ("/api/v1/webhooks/{id}", "delete"),
    ("/api/v1/webhooks/{webhook_id}/deliveries", "get"),
    ("/api/v1/deliveries/{id}", "get"),
    ("/api/v1/deliveries/{id}/redeliver", "post"),
]
HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "trace"}


@pytest.fixture(scope="module")
def schema() -> dict:
    """The document as `manage.py spectacular` writes it (no warnings filter: see the warnings test)."""
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def test_schema_is_served_without_a_key(anonymous_client):
    response = anonymous_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Calendence Webhooks API"
    assert "/api/v1/webhooks" in document["paths"]


def test_schema_is_served_as_yaml_by_default(anonymous_client):
    response = anonymous_client.get("/api/v1/schema/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.startswith(b"openapi: 3.")


def test_docs_page_is_html_without_a_key(anonymous_client):
    response = anonymous_client.get("/api/v1/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"/api/v1/schema/" in response.content


def test_schema_generation_has_no_warnings(tmp_path, capsys):
    output = tmp_path / "schema.yaml"

    try:
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(output))
    except SchemaGenerationError:
        pytest.fail("drf-spectacular warned:\n" + capsys.readouterr().err)

    assert "Warning" not in capsys.readouterr().err
    assert output.read_text().startswith("openapi: 3.")


def test_schema_lists_every_route_with_its_methods(schema):
    paths = {path: set(operations) & HTTP_METHODS for path, operations in schema["paths"].items()}

    for path, methods in ROUTES.items():
        assert path in paths, sorted(paths)
        assert methods <= paths[path], (path, paths[path])


def test_schema_declares_bearer_auth_on_every_api_operation(schema):
    schemes = schema["components"]["securitySchemes"]
    bearer = [name for name, scheme in schemes.items() if (scheme["type"], scheme.get("scheme")) == ("http", "bearer")]
    assert bearer

    for path in ROUTES:
        for method, operation in schema["paths"][path].items():
            if method in HTTP_METHODS:
                assert {bearer[0]: []} in operation["security"], (path, method)


@pytest.mark.parametrize("path, method", WEBHOOK_OPERATIONS)
def test_webhook_operations_document_their_error_responses(schema, path, method):
    responses = schema["paths"][path][method]["responses"]

    assert {"400", "401", "403", "404"} <= set(responses)
    for status in ("400", "401", "403", "404"):
        error_schema = responses[status]["content"]["application/json"]["schema"]
        assert error_schema == {"$ref": "#/components/schemas/Error"}
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]


def test_create_webhook_documents_the_secret_only_in_its_answer(schema):
    components = schema["components"]["schemas"]

    def properties(operation_schema):
        ref = operation_schema["$ref"].rsplit("/", 1)[-1]
        return set(components[ref]["properties"])

    create = schema["paths"]["/api/v1/webhooks"]["post"]
    created = properties(create["responses"]["201"]["content"]["application/json"]["schema"])
    request = properties(create["requestBody"]["content"]["application/json"]["schema"])
    retrieve = schema["paths"]["/api/v1/webhooks/{id}"]["get"]
    retrieved = properties(retrieve["responses"]["200"]["content"]["application/json"]["schema"])

    assert {
        "id", "url", "events", "description", "is_active", "secret", "business_id", "hub_id", "created_at"
    } <= created
    assert request == {"url", "events", "description", "business_id"}
    assert "secret" not in retrieved


def test_webhook_list_documents_cursor_pagination(schema):
    response = schema["paths"]["/api/v1/webhooks"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    page = schema["components"]["schemas"][response["$ref"].rsplit("/", 1)[-1]]

    assert {"results", "next", "previous"} <= set(page["properties"])
    assert "cursor" in {parameter["name"] for parameter in schema["paths"]["/api/v1/webhooks"]["get"]["parameters"]}


BEYOND_THE_SEED = [
    ("patch", "/api/v1/webhooks/{id}"),
    ("post", "/api/v1/webhooks/{id}/rotate-secret"),
    ("post", "/api/v1/webhooks/{webhook_id}/test"),
    ("post", "/api/v1/webhooks/{webhook_id}/recover"),
    ("get", "/api/v1/webhooks/{webhook_id}/deliveries"),
    ("get", "/api/v1/deliveries/{id}"),
    ("post", "/api/v1/deliveries/{id}/redeliver"),
    ("get", "/api/v1/event-types"),
]


@pytest.mark.parametrize("method, path", BEYOND_THE_SEED)
def test_every_beyond_the_seed_operation_has_request_and_response_examples(method, path):
    operation = SchemaGenerator().get_schema(request=None, public=True)["paths"][path][method]
    if "requestBody" in operation:
        assert operation["requestBody"]["content"]["application/json"].get("examples"), "no request example"
    success = next(response for code, response in operation["responses"].items() if code.startswith("2"))
    assert success["content"]["application/json"].get("examples"), "no response example"
