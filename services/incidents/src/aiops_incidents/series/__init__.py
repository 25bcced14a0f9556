"""A service's series as the detector rolled them up, minute by minute, with the usual range of
each (its baseline band) and the anomalies found on them: what the web UI charts."""
