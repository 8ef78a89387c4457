"""Celery: the app, the beat schedule, and thin task wrappers around domain services."""
