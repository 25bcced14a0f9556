"""A small traced shop to watch: frontend (POST /checkout) calls payment and inventory over HTTP.

Each app has its own OpenTelemetry service name and exports OTLP/HTTP to ingest; each can be
told to fail or slow down (`/simulate/...`) so that there are faults for the platform to find.
"""
