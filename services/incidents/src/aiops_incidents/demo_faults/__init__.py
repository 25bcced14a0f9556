"""The demo shop's fault panel: the web UI breaks and mends the demo shop's apps through the
incidents API, which calls each app's fault controls (`/simulate`)."""
