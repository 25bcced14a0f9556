"""The writers: batches of spans, metric points and log records stored exactly once, and the
storage kept within its retention."""
