"""The shared HTTP layer: client, auth, retry, rate limits, paginators, date windows, errors, redaction."""
