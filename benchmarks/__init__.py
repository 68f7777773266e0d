"""The speed benchmarks, run as scripts from a checkout: ``python benchmarks/bench.py`` (``--scale paper`` for one
round of every method at the paper's image sizes). A package only so that the tests can import them."""
