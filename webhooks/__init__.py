"""Signed webhooks to the shop (Standard Webhooks): endpoints, the relay from the event store,
the sender with retries, the delivery log. See README "Webhooks"."""

from webhooks.events import EVENT_TYPES, EventType, WebhookPayload
from webhooks.service import run
from webhooks.settings import WebhookSettings

__all__ = ["EVENT_TYPES", "EventType", "WebhookPayload", "WebhookSettings", "run"]
