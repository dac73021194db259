"""Microsoft Graph calendar and the Microsoft identity platform: models, responses, urls."""
