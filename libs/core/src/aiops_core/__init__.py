"""Core of the AIOps platform, shared by every service."""
