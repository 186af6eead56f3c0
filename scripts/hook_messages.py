"""Write fanvil_messages.h and .cc from fanvil_messages.mes, as Kea's kea-msg-compiler would.

Debian ships no kea-msg-compiler, so this small stand-in keeps the three files in step:

    python3 scripts/hook_messages.py          # rewrite the .h and .cc in kea_fanvil/kea_hook/src
    python3 scripts/hook_messages.py --check  # exit 1 if they are out of date (tests run this)
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent / "kea_fanvil" / "kea_hook" / "src"
MES = HERE / "fanvil_messages.mes"


def parse(text: str) -> tuple[str, list[tuple[str, str]]]:
    namespace = ""
    messages = []
    for line in text.splitlines():
        if line.startswith("$NAMESPACE"):
            namespace = line.split()[1]
        elif line.startswith("% "):
            ident, _, message = line[2:].partition(" ")
            messages.append((ident, message))
    return namespace, sorted(messages)


def c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def header(namespace: str, messages: list[tuple[str, str]]) -> str:
    guard = "FANVIL_MESSAGES_H"
    lines = [
        "// File created from fanvil_messages.mes",
        "",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "#include <log/message_types.h>",
        "",
        f"namespace {namespace} {{",
        "",
        *(f"extern const isc::log::MessageID {ident};" for ident, _ in messages),
        "",
        f"}} // namespace {namespace}",
        "",
        f"#endif // {guard}",
    ]
    return "\n".join(lines) + "\n"


def source(namespace: str, messages: list[tuple[str, str]]) -> str:
    lines = [
        "// File created from fanvil_messages.mes",
        "",
        "#include <cstddef>",
        "#include <log/message_types.h>",
        "#include <log/message_initializer.h>",
        "",
        f"namespace {namespace} {{",
        "",
        *(f'extern const isc::log::MessageID {ident} = "{ident}";' for ident, _ in messages),
        "",
        f"}} // namespace {namespace}",
        "",
        "namespace {",
        "",
        "const char* values[] = {",
        *(f'    "{ident}", {c_string(message)},' for ident, message in messages),
        "    NULL",
        "};",
        "",
        "const isc::log::MessageInitializer initializer(values);",
        "",
        "} // Anonymous namespace",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    namespace, messages = parse(MES.read_text())
    wanted = {
        HERE / "fanvil_messages.h": header(namespace, messages),
        HERE / "fanvil_messages.cc": source(namespace, messages),
    }
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path} is out of date: run python3 scripts/hook_messages.py", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
