"""Google Calendar v3 and Google OAuth: state (models), HTTP shapes (responses), routes (urls).

Map: models.py (GoogleBackend: calendars, writes, tombstones, sync points), records.py (what is
stored), eventdata.py (body validation), instances.py (recurrence), listing.py (events.list
semantics, sync and page tokens), calendar_list.py (calendarList.list paging and sync), fields.py (partial responses), channels.py (push), conference.py
(Meet links), schema.py (the bundled discovery document), oauth.py (/google/oauth2/...).

Known differences from the real service (kept deliberately small and documented):
- A deleted recurring series shows up in an incremental sync with singleEvents=true as ONE
  cancelled item carrying the master's id (plus its cancelled exceptions), not one per instance.
- Pages are always full (maxResults items) except the last; Google may return short pages.
- nextSyncToken is withheld when q, iCalUID or extended-property filters narrow the result;
  time windows and orderBy still get one, and incremental syncs ignore the original window.
- Repeated extended-property filters are ANDed (the discovery document's reading).
- `q` is a case-insensitive substring match on summary, description, location and attendees.
- `timeZone` only changes the list's `timeZone` field; times keep the zone they were written in.
  maxAttendees, eventTypes and alwaysIncludeEmail are accepted and ignored.
- Changing a series' times or rules deletes the exceptions whose original instance vanished;
  exceptions do not pick up later changes to the master's other fields.
- Recurrence supports DAILY/WEEKLY/MONTHLY/YEARLY only, and a rule that can never match is a 400.
- Event times must fall in the years 1900-2999.
- Calendars live in UTC; all-day dates are compared as UTC midnights.
- Channel ids are unique across the whole emulator (one "project"); stopping someone else's
  channel is 403.
- id_token is JWT-shaped but unsigned (alg "none").
- The calendar list changes only by calendars added (admin API) or deleted; a deleted entry in a
  calendarList sync is the entry as it was plus `deleted: true`. Nothing is ever hidden.
- events.quickAdd does not parse the text: it makes a one-hour event at the next full hour,
  titled with the whole text.
- events.import matches an existing copy by iCalUID among the calendar's live events and
  rewrites it in place; the organizer given is kept as is.
- events.move keeps the id, tombstones the event (and a series' exceptions) in the source and
  refuses instances (cannotChangeOrganizerOfInstance) and non-default event types.
- Descriptions come back exactly as written; events seeded through the admin API, or written
  without a description, carry the privacy canary as (or appended to) their description.
"""
