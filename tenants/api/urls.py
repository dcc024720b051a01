"""Routes of the tenants API, registered on the project's one `/api/v1/` router."""

routes: list = []
