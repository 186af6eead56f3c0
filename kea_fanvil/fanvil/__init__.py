"""Facts about Fanvil phones, as data: identification, file naming, config file formats, crypto.

Imports only the wire and leaf layers."""
