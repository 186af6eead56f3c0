"""Prometheus metrics of the hook in running kea-dhcp4 servers (``kea-fanvil metrics``)."""
