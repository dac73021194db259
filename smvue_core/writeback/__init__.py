"""Write-back (F14): putting meetings scheduled in SMVue on the manager's calendar, exactly once.

`scheduling` turns API requests into a meeting row and an outbox row (one transaction);
`worker` claims outbox rows under a lease and runs `job.write_meeting` against the provider-neutral
`ProviderSession`; `failpoints` lets a test stop a worker at a named point and kill it there.
"""
