"""Benchmarks: figures, not tests. `python -m benchmarks [--quick]` runs them all (see __main__.py).

- sandbox_throughput: requests/s of the vendor sandbox (also runnable as a script);
- leads_load: the real `hubspot_leads` load next to DuckDB-native on the same records;
- analytics_nightly: requests and wall time of a first analytics nightly at 50 ms latency.
"""
