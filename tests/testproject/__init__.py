"""A small plain Django project for the generic profile's tests (no paperless models)."""
