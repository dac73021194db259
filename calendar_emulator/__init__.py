"""A faithful local stand-in for Google Calendar v3, Microsoft Graph and their OAuth endpoints."""
