"""The ``kea-fanvil`` command: one module per command group, put together in app."""
