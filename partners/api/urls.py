"""Routes of the partners API, registered on the project's one `/api/v1/` router."""

routes: list = []
