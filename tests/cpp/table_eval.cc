// table_eval: DecisionTable (kea_fanvil/kea_hook/src/decision_table.h) on stdin, for
// tests/test_decision_table.py, which compares its answers with Engine.decide_raw byte for byte.
// The table format and the rules are defined in decision_table.h (the issue 16 spec, copied).
//
// Input, one item a line:
//   line 1     the table, as hex (either case; an empty line is an empty table)
//   then       one request a line, five fields separated by blanks:
//                mac_hex vendor_class prl giaddr_hex yiaddr_hex
//              mac: hex, or "=" for an empty MAC (length 0)
//              vendor_class, prl: hex; "=" present but empty; "-" absent
//              giaddr, yiaddr: 8 hex digits, the address's bytes in wire order (0a000001 is
//              10.0.0.1); "-" here would mean nothing, so it is refused
//              Blank lines are skipped.
// Output, one line per request:
//   none                               not a phone of ours (decide() returned false)
//   <options> file:<hex>|file:-        otherwise; <options> is "=" when there are none, else
//                                      code:hex,code:hex,... in wire order (code in decimal,
//                                      data as lowercase hex, empty data as "code:"); file:-
//                                      when there is no file field
// Exit status: 0 done; 2 the table does not parse ("error: <parse error>" on stdout, the only
// line); 1 a malformed request line ("error: line N: ..." on stdout, after the answers so far).
#include "decision_table.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using fanvil::ByteSpan;
using fanvil::DecisionTable;
using fanvil::TableDecision;
using fanvil::TableRequest;

namespace {

int nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// False on an odd length or a non-hex digit.
bool unhex(const std::string& text, std::vector<uint8_t>& out) {
    out.clear();
    if (text.size() % 2 != 0) {
        return false;
    }
    for (size_t i = 0; i < text.size(); i += 2) {
        int hi = nibble(text[i]);
        int lo = nibble(text[i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out.push_back(static_cast<uint8_t>(hi << 4 | lo));
    }
    return true;
}

void hex(std::string& out, const uint8_t* data, size_t size) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < size; ++i) {
        out += digits[data[i] >> 4];
        out += digits[data[i] & 0xf];
    }
}

[[noreturn]] void badLine(const std::string& answers, size_t line, const std::string& why) {
    std::fwrite(answers.data(), 1, answers.size(), stdout);
    std::printf("error: line %zu: %s\n", line, why.c_str());
    std::exit(1);
}

} // namespace

int main() {
    std::ios::sync_with_stdio(false);
    std::string line;
    std::getline(std::cin, line);
    std::vector<uint8_t> raw;
    if (!unhex(line, raw)) {
        std::printf("error: line 1: the table is not hex\n");
        return 1;
    }
    std::shared_ptr<const DecisionTable> table;
    try {
        table = DecisionTable::parse(raw.data(), raw.size());
    } catch (const std::invalid_argument& exc) {
        std::printf("error: %s\n", exc.what());
        return 2;
    }

    std::string answers;
    TableDecision decision;  // reused, as the hook would
    std::vector<uint8_t> mac, vendor, prl, giaddr, yiaddr;
    size_t number = 1;
    while (std::getline(std::cin, line)) {
        ++number;
        std::istringstream fields(line);
        std::string f[5], extra;
        if (!(fields >> f[0])) {
            continue;  // blank line
        }
        if (!(fields >> f[1] >> f[2] >> f[3] >> f[4]) || (fields >> extra)) {
            badLine(answers, number, "expected 5 fields: mac vendor_class prl giaddr yiaddr");
        }
        // "=": present and empty; "-": absent (vendor_class and prl only).
        auto field = [&](const std::string& text, std::vector<uint8_t>& out, bool optional,
                         const char* what) -> ByteSpan {
            if (text == "=") {
                out.clear();
                return ByteSpan{out.data(), 0};
            }
            if (text == "-" && optional) {
                return ByteSpan{};
            }
            if (!unhex(text, out)) {
                badLine(answers, number, std::string(what) + " is not hex: " + text);
            }
            return ByteSpan{out.data(), out.size()};
        };
        auto address = [&](const std::string& text, std::vector<uint8_t>& out,
                           const char* what) -> uint32_t {
            if (text.size() != 8 || !unhex(text, out)) {
                badLine(answers, number, std::string(what) + " is not 8 hex digits: " + text);
            }
            // Wire order to host order, as TableRequest documents.
            return static_cast<uint32_t>(out[0]) << 24 | static_cast<uint32_t>(out[1]) << 16 |
                   static_cast<uint32_t>(out[2]) << 8 | out[3];
        };
        TableRequest req;
        req.mac = field(f[0], mac, false, "mac");
        req.vendor_class = field(f[1], vendor, true, "vendor_class");
        req.prl = field(f[2], prl, true, "prl");
        req.giaddr = address(f[3], giaddr, "giaddr");
        req.yiaddr = address(f[4], yiaddr, "yiaddr");

        if (!table->decide(req, decision)) {
            answers += "none\n";
            continue;
        }
        if (decision.count == 0) {
            answers += '=';
        }
        for (size_t i = 0; i < decision.count; ++i) {
            const auto& o = decision.options[i];
            if (i > 0) {
                answers += ',';
            }
            answers += std::to_string(o.code);
            answers += ':';
            hex(answers, o.data, o.size);
        }
        answers += " file:";
        if (decision.has_file) {
            hex(answers, decision.file.data, decision.file.size);
        } else {
            answers += '-';
        }
        answers += '\n';
    }
    std::fwrite(answers.data(), 1, answers.size(), stdout);
    return 0;
}
