"""Demo shop with fault injection. Built by a later change; nothing runs here yet."""
