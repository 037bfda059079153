"""The benchmark suite: ``python -m scripts.bench.run --help``.

One module per part of the suite: ``run`` (the command line and the order of the runs),
``ceilings``, ``service`` (service runs: registrations, match reads, bulk, CSV import,
webhooks), ``scale`` (scale points and scale-out), ``report`` (``results.md`` from the results),
beside ``processes`` (the service, the notifier, wrk), ``databases`` (fresh, seeded databases and
the match check), ``machine``, ``profiling`` (py-spy), ``common`` (settings and options) and
``tables`` (rows written straight into the database, by column name). ``load_registrations``
preloads a database; ``kept`` and ``inprocess`` are the quick loops for comparing versions.
"""
