"""The span writer: span batches stored exactly once, and the storage kept within its retention."""
