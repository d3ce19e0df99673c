"""Telegram: the platform's bot links a Telegram chat to a user (/link with a one-time code
from the Telegram page), answers a few commands from the user's books, and sends an alert
for each order event of a linked user. Everything that talks to Telegram runs in Celery."""
