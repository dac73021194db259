"""Google Calendar v3 client: OAuth, sync, watch channels and write-back."""
