"""Notifications of incident changes: the outbox that fans each timeline event out (Redis
channel, webhook deliveries), the dispatcher that posts the deliveries with retries and a
dead-letter queue, the server-sent-events stream, and silences that hold webhooks back."""
