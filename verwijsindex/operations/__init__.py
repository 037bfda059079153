"""What operators watch: the database's gauges read at scrape time for ``/metrics``."""
