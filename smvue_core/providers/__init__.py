"""Calendar providers behind one interface (`base.CalendarProvider`): Google and Outlook."""
