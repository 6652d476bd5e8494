from hubspot_metrics.cli import main

main()
