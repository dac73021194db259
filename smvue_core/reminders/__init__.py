"""Prep reminders (F12): planning from the 1:1 table, delivery to a webhook, exactly once."""
