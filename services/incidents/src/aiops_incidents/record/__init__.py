"""The platform's own record over time: incidents opened and resolved, and the mean times to
detect and to resolve them, per day or per hour."""
