"""Outgoing webhooks: an admin names a URL and the events it wants; each event the domains signal
(blinker) becomes one signed POST per endpoint, sent by a Celery worker after the action's
COMMIT, retried with exponential backoff, logged attempt by attempt, and the endpoint disabled
(the admins told by e-mail) after WEBHOOK_FAILURE_THRESHOLD failed attempts in a row.

It lives in the outer ring because it listens to several domains at once: subscribers,
contributions, the newsletter and events never know it exists.
"""
