"""A minimal Django project (and its one app): Record, listed by DRF's three paginators."""
