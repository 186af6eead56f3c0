"""Every exception kea-fanvil raises on purpose. A leaf: imports nothing of the package.

KeaFanvilError
├── PolicyError          the policy file cannot be read or is invalid (file, line, field)
├── EncodingError        a value does not fit the DHCP option that must carry it (also ValueError)
├── RenderError          a target server's configuration cannot express the policy
├── FilesError           provisioning files cannot be built, written or decrypted
├── UnsafeFile           a file refused: not a regular file, too large, a dangerous target
│                        (also OSError, so callers that handle OSError keep doing so)
├── KeaNotFound          kea-dhcp4 is not installed, or did not say what it is
├── ControlError         Kea's control channel cannot be reached or did not answer as Kea does
├── HookBuildError       the hook library cannot be built or installed, or is not built yet
├── InventoryError       the inventory database cannot be opened or read
├── DhcpPacketError      bytes that are not a well-formed DHCPv4 message (also ValueError)
├── SipError             a datagram that is not a SIP message the parser accepts (also ValueError)
├── PnpError             the PnP responder or its probe cannot start
├── DhcpClientError      the probe's DHCP exchange failed
│   ├── InterfaceError   the interface is missing or down, or raw sockets are not permitted
│   ├── DhcpTimeout      no matching reply arrived in time
│   └── DhcpNak          the server refused the request with DHCPNAK
└── ProbeFailed          ends `kea-fanvil probe` with an exit code and a message
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

__all__ = [
    "ControlError",
    "DhcpClientError",
    "DhcpNak",
    "DhcpPacketError",
    "DhcpTimeout",
    "EncodingError",
    "FilesError",
    "HookBuildError",
    "InterfaceError",
    "InventoryError",
    "KeaFanvilError",
    "KeaNotFound",
    "PnpError",
    "PolicyError",
    "ProbeFailed",
    "RenderError",
    "SipError",
    "SipErrorKind",
    "UnsafeFile",
]


class KeaFanvilError(Exception):
    """Base of every error this package raises on purpose."""


class _Problem(Protocol):
    # kea_fanvil.policy.problems.PolicyProblem; a protocol keeps this module a leaf.
    def render(self, source: str) -> str: ...


class PolicyError(KeaFanvilError):
    """The policy is invalid; `problems` lists every problem found, in file order."""

    def __init__(self, source: str, problems: Sequence[_Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__("\n".join(p.render(source) for p in problems))


class EncodingError(KeaFanvilError, ValueError):
    """A value cannot be encoded into the DHCP option or header field meant to carry it."""


class RenderError(KeaFanvilError):
    """The policy asks for something the target server's configuration cannot express."""

    def __init__(self, target: str, entry: str, message: str) -> None:
        self.target = target
        self.entry = entry  # the policy entry at fault, e.g. "sites[0] (branch-a)"
        super().__init__(f"{target}: {entry}: {message}")


class FilesError(KeaFanvilError):
    """Provisioning files cannot be built, written, encrypted or decrypted.

    Messages never hold an encryption key.
    """


class UnsafeFile(KeaFanvilError, OSError):
    """A file that is refused (not a regular file, too large, a dangerous target)."""


class KeaNotFound(KeaFanvilError):
    """kea-dhcp4 is not installed, or did not say what it is."""


class ControlError(KeaFanvilError):
    """Kea's control channel could not be reached, or answered with something not Kea's."""


class HookBuildError(KeaFanvilError):
    """The hook library cannot be built, or has not been built yet."""


class InventoryError(KeaFanvilError):
    """The database cannot be opened or read (the text says which file and why)."""


class DhcpPacketError(KeaFanvilError, ValueError):
    """Bytes that are not a well-formed DHCPv4 message, or a message that cannot be encoded."""


SipErrorKind = Literal[
    "empty",  # nothing but line ends (an RFC 5626 keep-alive, or an empty datagram)
    "too-large",
    "bad-encoding",  # not UTF-8, or a control character in the text
    "bad-start-line",
    "bad-header",  # a header line that is not NAME: VALUE, or too many headers
    "missing-header",
    "duplicate-header",
    "bad-cseq",
    "bad-content-length",
    "bad-uri",
    "bad-via",
    "bad-params",
    "bad-event",
    "bad-mac",
    "bad-contact",
]


class SipError(KeaFanvilError, ValueError):
    """The datagram is not a SIP message this parser accepts; ``kind`` says which rule failed."""

    def __init__(self, kind: SipErrorKind, message: str) -> None:
        self.kind: SipErrorKind = kind
        super().__init__(message)


class PnpError(KeaFanvilError):
    """The responder or the probe cannot start: no such interface, address in use, ..."""


class DhcpClientError(KeaFanvilError):
    """Base of the probe's DHCP client errors."""


class InterfaceError(DhcpClientError):
    """The interface is missing or down, or raw sockets are not permitted."""


class DhcpTimeout(DhcpClientError):
    """No matching reply arrived in time."""


class DhcpNak(DhcpClientError):
    """The server refused the request with DHCPNAK; `text` is its option 56 message, if any."""

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(f"DHCPNAK from the server{': ' + text if text else ''}")


class ProbeFailed(KeaFanvilError):
    """Ends the probe with `exit_code` and `message`."""

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
