"""The provider-neutral sync engine: plans full or incremental syncs per calendar, fetches through a
ProviderSession, and applies the result to raw.calendar_events in one transaction per calendar."""
