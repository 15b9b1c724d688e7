"""One module per framework, each registered as an entry point of ``spikebench.frameworks``
(``pyproject.toml``); nothing here is imported eagerly, so an absent framework costs nothing."""
