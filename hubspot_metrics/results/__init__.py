"""What people take away from the store: dated KPI snapshots, CSV exports, the HTML report
and the nightly job that produces them."""
