"""Wire formats: DHCPv4 messages and options, SIP; bytes to objects and back, each citing its RFC.

Imports only the leaf layer (errors, redaction)."""
