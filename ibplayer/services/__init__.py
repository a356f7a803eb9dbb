"""The application (no Qt): library and refresh with policies, enrichment, downloads, playback session, settings."""
