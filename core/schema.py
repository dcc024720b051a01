"""The OpenAPI schema's project conventions: every write documents the error bodies our exception handler answers.

Without them a client generated from `/api/schema/` knows only the success body, and its typed call returns
nothing on a refusal, so the integrator never sees which field was wrong or that someone else changed the row.
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


# 400: field name → its messages; `non_field_errors` for rules over several fields; `detail` for a parse error.
# The components are built anew for every schema: drf-spectacular's post-processing hooks edit schemas in place.
def validation_error() -> ResolvedComponent:
    return ResolvedComponent(
        name="ValidationError",
        type=ResolvedComponent.SCHEMA,
        object="innopole.ValidationError",
        schema={
            "type": "object",
            "description": "Why the request was refused, by field. Nothing was saved.",
            "properties": {
                "detail": {"type": "string"},
                "non_field_errors": {"type": "array", "items": {"type": "string"}},
            },
            "additionalProperties": True,
        },
    )


# 409: the row changed since the version the client sent (core.api.exception_handler).
def conflict() -> ResolvedComponent:
    return ResolvedComponent(
        name="Conflict",
        type=ResolvedComponent.SCHEMA,
        object="innopole.Conflict",
        schema={
            "type": "object",
            "description": (
                "The row was changed by someone else since the version sent; read it again and retry. Who changed "
                "it, when and what changed come from the row's history (null and empty when it has none)."
            ),
            "properties": {
                "detail": {
                    "type": "string",
                    "description": "A sentence naming who changed the row, when, and what changed.",
                },
                "current_version": {"type": "integer"},
                "code": {"type": "string", "description": "Always `conflict`."},
                "changed_by": {
                    "type": "string",
                    "nullable": True,
                    "description": "Who made the last change since the version sent (null: the system).",
                },
                "changed_at": {
                    "type": "string",
                    "format": "date-time",
                    "nullable": True,
                    "description": "When that change was made.",
                },
                "changes": {
                    "type": "array",
                    "description": "Each field that differs between the version sent and the current one.",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string", "description": "The field's label."},
                            "old": {"type": "string", "description": "Its value in the version sent, as shown."},
                            "new": {"type": "string", "description": "Its value now, as shown."},
                        },
                        "required": ["field", "old", "new"],
                    },
                },
            },
            "required": ["detail", "current_version", "code", "changed_by", "changed_at", "changes"],
        },
    )


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, plus the 400 of every write and the 409 of every versioned update."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response" or self.method not in WRITE_METHODS:
            return responses
        component = validation_error()
        self.registry.register_on_missing(component)
        responses.setdefault(
            "400", {**self._get_response_for_code(component.ref, "400"), "description": "Invalid input"}
        )
        if self.method in {"PUT", "PATCH"} and self._is_versioned():
            component = conflict()
            self.registry.register_on_missing(component)
            responses.setdefault(
                "409", {**self._get_response_for_code(component.ref, "409"), "description": "Edit conflict"}
            )
        return responses

    def _is_versioned(self) -> bool:
        serializer = self.get_request_serializer()
        fields = getattr(serializer, "fields", None)
        return fields is not None and "version" in fields
