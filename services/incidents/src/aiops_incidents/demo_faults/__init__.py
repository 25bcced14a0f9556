"""The demo shop's fault panel: the web UI breaks and mends the demo shop through the incidents
API, which calls the fault controls of each app (`/simulate`) and of inventory's database stock-db
(inventory's `/simulate/stock-db`), each named as the platform names what it finds."""
