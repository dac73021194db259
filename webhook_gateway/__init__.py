"""The webhook gateway: provider push notifications in, verified and durably queued; the app API
(OAuth connect, connections, roster) for the SMVue web app. `create_app(settings)` builds it."""
