"""The marketing-elt command line and the runs it offers (nightly, backfill, status, demo)."""
