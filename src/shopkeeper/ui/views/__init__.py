"""One module per dashboard page: each returns the data its page shows."""
