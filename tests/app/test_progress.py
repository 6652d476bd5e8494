"""The CLI's progress display as cron sees it (stderr not a terminal): plain lines only."""

from hubspot_metrics.cli.progress import Progress


def test_plain_lines_name_the_object_and_report_every_ten_thousand_records():
    lines: list[str] = []
    progress = Progress(echo=lines.append, interactive=False)
    progress.start("contacts (full)", 25_000)
    for _ in range(25):
        progress.advance(1_000)
    progress.finish("25000 records (full)")
    progress.start("deals (changes)", None)
    progress.advance(3)
    progress.finish("3 changed records")
    assert lines == [
        "contacts (full): started (25000 records in HubSpot)",
        "contacts (full): 10000 records",
        "contacts (full): 20000 records",
        "contacts (full): 25000 records (full)",
        "deals (changes): started",
        "deals (changes): 3 changed records",
    ]


def test_without_lines_nothing_is_written_off_a_terminal(capfd):
    progress = Progress.for_stderr(lines=False)  # pytest's stderr is not a terminal
    progress.start("contacts (full)", 10)
    progress.advance(10)
    progress.finish("10 records (full)")
    assert capfd.readouterr() == ("", "")
