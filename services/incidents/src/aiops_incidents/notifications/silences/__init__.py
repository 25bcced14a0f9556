"""Silences: while one is in force, an incident whose root cause matches every one of its
non-null matchers (service, operation, kind) sends no webhook. The events still reach the
timeline, the Redis channel and the stream, marked `silenced`."""
