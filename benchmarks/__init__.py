"""Benchmarks: figures, not tests. `python -m benchmarks [--quick]` runs them all (see __main__.py).

- sandbox_throughput: requests/s of the vendor sandbox (also runnable as a script);
- leads_load: the real `hubspot_leads` load next to DuckDB-native on the same records, and its memory at
  100,000 and 1,000,000 leads (`--million`);
- leads_slices: a two-month Leads first load at 100 ms latency, time slices side by side against one after another;
- four_sources: the first nightly of all four sources at 100 ms latency: side by side, against the latency
  bound and sequential extraction (issue 19 target 3), and the fixed cost of a run;
- history: first loads of 1, 3 and 12 months (scaling), then one nightly on the year-old warehouse against
  the fewest requests it could make (`economy`), per vendor (issue 19 targets 5 and 4).
"""
