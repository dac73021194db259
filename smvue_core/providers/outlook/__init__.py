"""Outlook (Microsoft 365) calendar client: msal auth-code flow, Graph delta sync, subscriptions, write-back."""
