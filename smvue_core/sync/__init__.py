"""The provider-neutral sync engine: plans full or incremental syncs per calendar, fetches through a
ProviderSession, and applies the results to raw.calendar_events, cursors included, in group-committed
transactions."""
