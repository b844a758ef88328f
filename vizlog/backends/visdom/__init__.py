"""Visdom: payload builders (pure), the HTTP client, the ledger of what the server confirmed,
the spool of what it has not, and the backend that ties them together."""
