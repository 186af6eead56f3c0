"""SIP PnP (spec 2.2): the responder for phones with static addresses, its service, its client."""
