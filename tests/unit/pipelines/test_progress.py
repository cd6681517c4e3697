"""Progress for cron and CI: one line per stage with rows and time, nothing for dlt's bookkeeping stage."""

from __future__ import annotations

import io

from pipelines.progress import StageLines, progress_for


def test_one_line_per_stage_and_no_bookkeeping_lines() -> None:
    out = io.StringIO()
    lines = StageLines(out)
    with lines("Extract hubspot_leads"):
        lines.update("hubspot_leads", 5)
        lines.update("hubspot_leads__lead_conversion_events", 7)
        lines.update("Resources", 1)
    with lines("Extract hubspot_leads"):  # dlt's state extract: only work tallies
        lines.update("Resources", 1)
    with lines("Load hubspot_leads in 1796270844.86"):
        lines.update("Jobs", 3, label="Completed")
    text = out.getvalue().splitlines()
    assert len(text) == 2, text
    assert text[0].startswith("Extract hubspot_leads: 12 rows (largest: hubspot_leads__lead_conversion_events 7, ")
    assert text[1].startswith("Load hubspot_leads: 3 load jobs in ")


def test_a_pipe_gets_stage_lines() -> None:
    assert isinstance(progress_for(io.StringIO()), StageLines)
