"""Play a phone: a DHCP client on a real interface, the download, what the phone makes of it."""
