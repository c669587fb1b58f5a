"""Long-running upstream work (MidJourney tasks): the leased poller, notifyHook calls through the guarded fetcher,
refunds exactly once, the query routes' answers and the image proxy with its signed links.

    runtime.py   what one process runs and serves (built in the app start-up)
    poller.py    batched list-by-condition rounds, backoff, timeouts, then refunds (billing/refunds.py)
    hooks.py     the notifyHook outbox, sent in order with retries
    queries.py   fetch, list-by-condition, image-seed from the task store
    images.py    /mj/image/{id}: a task's image through relaygate; links.py signs its links
    views.py     a task as its client sees it
"""
