"""The FHIR API's answers other than success: an HTTP status and an OperationOutcome naming the
element or parameter at fault (careway/fhir/api.py renders them; the types' writes in
careway/fhir/mapping/ raise them too)."""


class FhirError(Exception):
    """An answer other than success: HTTP status, OperationOutcome issue code, and the element or
    parameter at fault."""

    def __init__(
        self,
        status: int,
        code: str,
        diagnostics: str,
        expression: str = "",
        headers: dict[str, str] | None = None,
    ):
        self.status = status
        self.code = code
        self.expression = expression
        self.headers = headers or {}
        super().__init__(diagnostics)
