"""`/aiops/services/{service}/metrics`: the metric series a service sends, with their values."""
