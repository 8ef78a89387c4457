"""The API against its own OpenAPI document, property-based (schemathesis, issue 15 item 1): for
queries generated from /api/openapi.json — valid and invalid ones, odd strings, huge numbers —
over a seeded database, no answer is a 500, and every answer has a documented status, a
documented content type and a body that conforms to the document's schema."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.parentalites.api_world import seed

EXAMPLES = 25  # per operation and mode: 350 requests
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


# schemathesis.pytest.from_fixture does not run under pytest 9 (it reads a private attribute): the
# operations and their hypothesis strategies are taken from the loaded schema instead.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_answer_keeps_to_the_document(app, db, world, mode):
    seed(db, world)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def conforms(case):
            case.call_and_validate(checks=CHECKS)

        conforms()
