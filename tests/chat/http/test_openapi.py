"""The OpenAPI document (chat/http/openapi.py): a valid OpenAPI 3.1 document, served at
/api/schema/, naming every /api/ route with exactly the methods its view takes, and a
check (chat/http/conformance.py) that refuses answers the document does not allow.

(That every /api/ answer of the test suite is checked is tests/conftest.py's part; the
live server under Schemathesis is test_schemathesis.py's.)
"""

import json
import re

import pytest
import schemathesis
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from jsonschema import Draft202012Validator

from chat import services
from chat.http import openapi
from chat.http.conformance import NonConformance, check_response, path_template

pytestmark = pytest.mark.django_db

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def api_routes(patterns=None, prefix: str = "") -> dict[str, object]:
    """Every route under /api/ (and /hooks/) in the resolver, written as the document
    writes paths (`/api/rooms/{room_id}/`), with its view."""
    found = {}
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found.update(api_routes(entry.url_patterns, route))
        elif isinstance(entry, URLPattern) and f"/{route}".startswith(openapi.PREFIXES):
            found["/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)] = entry.callback
    return found


def test_the_document_is_valid_openapi_3_1():
    document = openapi.document()
    assert document["openapi"].startswith("3.1.")
    schemathesis.openapi.from_dict(document).validate()  # raises if it is not
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_every_api_route_is_in_the_document_and_nothing_else():
    assert set(api_routes()) == set(openapi.document()["paths"])


@pytest.mark.parametrize("path", sorted(api_routes()))
def test_each_route_documents_exactly_the_methods_its_view_takes(path):
    documented = {key.upper() for key in openapi.document()["paths"][path] if key in METHODS}
    assert documented == set(api_routes()[path].methods)


def test_every_operation_documents_its_errors_in_the_error_shape():
    for path, operations in openapi.document()["paths"].items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            statuses = set(operation["responses"])
            assert "413" in statuses, (method, path)
            if path.startswith("/api/") and path != "/api/schema/":
                assert {"401", "503"} <= statuses, (method, path)
                if method != "get":
                    assert {"403", "429"} <= statuses, (method, path)
            if "requestBody" in operation:
                assert "400" in statuses, (method, path)
            if "{" in path:  # no such row, or an id past any row's (chat/urls.py)
                assert "404" in statuses, (method, path)
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path)


def test_the_document_is_served_to_anyone_at_api_schema(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == json.loads(json.dumps(openapi.document()))


def test_the_schema_endpoint_takes_only_get(client):
    response = client.post("/api/schema/")
    assert response.status_code == 405
    assert response["Allow"] == "GET"


class TestTheCheck:
    """check_response refuses what the document does not allow (so the suite's check can fail)."""

    ROOM_BODY = json.dumps({"rooms": []}).encode()

    def test_paths_are_matched_to_the_documents_templates(self):
        assert (
            path_template("/api/rooms/12/members/bob") == "/api/rooms/{room_id}/members/{username}"
        )
        assert path_template("/api/rooms/") == "/api/rooms/"
        assert path_template("/api/rooms/12/nothing") is None

    def test_an_answer_as_documented_passes(self):
        assert check_response("GET", "/api/rooms/", 200, "application/json", self.ROOM_BODY) == {
            "rooms": []
        }

    def test_an_undocumented_status_is_refused(self):
        with pytest.raises(NonConformance, match="no such answer"):
            check_response("GET", "/api/rooms/", 202, "application/json", self.ROOM_BODY)

    def test_a_body_of_another_shape_is_refused(self):
        body = json.dumps({"rooms": [], "extra": 1}).encode()
        with pytest.raises(NonConformance, match="Additional properties"):
            check_response("GET", "/api/rooms/", 200, "application/json", body)

    def test_another_content_type_is_refused(self):
        with pytest.raises(NonConformance, match="text/html"):
            check_response("GET", "/api/rooms/", 200, "text/html", self.ROOM_BODY)

    def test_an_error_code_that_does_not_go_with_its_status_is_refused(self):
        body = json.dumps({"error": {"code": "not_found", "detail": "No."}}).encode()
        check_response("PATCH", "/api/rooms/5/", 404, "application/json", body)
        with pytest.raises(NonConformance, match="not_found"):
            check_response("PATCH", "/api/rooms/5/", 403, "application/json", body)

    def test_an_unknown_api_path_may_only_be_the_json_404(self):
        body = json.dumps({"error": {"code": "not_found", "detail": "No such API path."}})
        check_response("GET", "/api/nothing", 404, "application/json", body.encode())
        with pytest.raises(NonConformance):
            check_response("GET", "/api/nothing", 200, "application/json", b"{}")

    def test_an_undocumented_method_may_only_be_the_json_405(self):
        body = json.dumps({"error": {"code": "not_allowed", "detail": "Use GET, POST here."}})
        check_response("PUT", "/api/rooms/", 405, "application/json", body.encode())
        with pytest.raises(NonConformance):
            check_response("PUT", "/api/rooms/", 200, "application/json", b"{}")

    def test_the_suites_client_checks_its_answers(self, user, monkeypatch):
        client = Client()
        client.force_login(user)
        assert client.get("/api/blocks/").json() == {"blocked": []}
        monkeypatch.setattr(services, "blocked_usernames", lambda _user: [5])
        with pytest.raises(NonConformance, match="not of type 'string'"):
            client.get("/api/blocks/")
