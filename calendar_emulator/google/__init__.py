"""Google Calendar v3 and Google OAuth: state (models), HTTP shapes (responses), routes (urls)."""
