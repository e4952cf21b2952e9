"""The OpenAPI document at /api/openapi.json: valid OpenAPI 3 and complete for the library API."""
from openapi_spec_validator import validate

EXPECTED = {
    "/api/books": {"get"},
    "/api/books/{book_id}": {"get"},
    "/api/loans": {"get", "post"},
    "/api/loans/{loan_id}/return": {"post"},
    "/api/loans/{loan_id}/renew": {"post"},
    "/api/reservations": {"get", "post"},
    "/api/reservations/{reservation_id}/cancel": {"post"},
    "/api/members": {"get"},
    "/api/members/{member_id}/verification": {"post"},
}
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def test_openapi_document_is_valid_and_lists_every_endpoint(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    spec = response.get_json()
    validate(spec)  # raises on any violation of the OpenAPI 3.0 schema
    assert spec["openapi"] == "3.0.3"
    for path, methods in EXPECTED.items():
        assert path in spec["paths"], path
        assert set(spec["paths"][path]) & HTTP_METHODS == methods, path


def test_inputs_and_outputs_are_described(client):
    spec = client.get("/api/openapi.json").get_json()
    paths, schemas = spec["paths"], spec["components"]["schemas"]

    search = {p["name"]: p for p in paths["/api/books"]["get"]["parameters"]}
    assert set(search) == {"q", "category", "page", "per_page"}
    assert (search["per_page"]["schema"]["minimum"], search["per_page"]["schema"]["maximum"]) == (1, 100)
    assert search["q"]["schema"]["maxLength"] == 200

    borrow = paths["/api/loans"]["post"]
    assert borrow["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BorrowIn"}
    assert schemas["BorrowIn"]["required"] == ["book_id"]
    assert {"201", "401", "403", "404", "409", "422"} <= set(borrow["responses"])
    assert set(schemas["LoanOut"]["properties"]) == {
        "id", "book_id", "user_id", "borrowed_at", "due_at", "returned_at", "status", "overdue", "renewals",
        "fine_cents"}
    assert set(schemas["BookPage"]["properties"]) == {"items", "total", "page", "per_page"}
    assert set(schemas["ReservationOut"]["properties"]) >= {"id", "book_id", "status", "position"}
    assert "email" not in schemas["MemberOut"]["properties"]
    assert schemas["VerificationIn"]["properties"]["kind"]["enum"] == ["email", "identity", "professional"]
