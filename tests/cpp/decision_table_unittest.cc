// DecisionTable (decision_table.h): the reader and evaluator of the decision table that
// kea_fanvil.engine.Engine.table() writes. The format and the rules are defined in
// decision_table.h (the issue 16 spec, copied); each rule and each parse error has a test here,
// on tables built by hand (TableSpec below), so that a failure names the rule rather than a
// random example.
// tests/test_decision_table.py checks the same code against Engine.decide_raw on generated
// policies.
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "decision_table.h"

using fanvil::ByteSpan;
using fanvil::DecisionTable;
using fanvil::TableDecision;
using fanvil::TableMatch;
using fanvil::TableRequest;

namespace {

constexpr uint32_t NONE = DecisionTable::NONE;

// Bytes from hex, so that MACs read as they are usually written.
std::string bin(const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    }
    return out;
}

uint32_t ip(int a, int b, int c, int d) {
    return static_cast<uint32_t>(a) << 24 | static_cast<uint32_t>(b) << 16 |
           static_cast<uint32_t>(c) << 8 | static_cast<uint32_t>(d);
}

// Little-endian writer, as the format wants.
class Writer {
public:
    Writer& u8(uint32_t v) {
        b_.push_back(static_cast<uint8_t>(v));
        return *this;
    }
    Writer& u16(uint32_t v) { return u8(v).u8(v >> 8); }
    Writer& u32(uint32_t v) { return u16(v).u16(v >> 16); }
    Writer& raw(const std::string& s) {
        b_.insert(b_.end(), s.begin(), s.end());
        return *this;
    }
    size_t size() const { return b_.size(); }
    std::vector<uint8_t>& bytes() { return b_; }

private:
    std::vector<uint8_t> b_;
};

struct Opt {
    uint8_t code;
    std::string data;
};

struct SiteSpec {
    uint32_t url = NONE;
    uint32_t boot = NONE;
    std::vector<std::pair<uint32_t, uint32_t>> networks;  // (network, mask)
    uint32_t extras = NONE;
};

struct DeviceSpec {
    std::string mac;
    uint32_t url = NONE;
    uint32_t boot = NONE;
    uint32_t extras = NONE;
};

// A table's content; bytes() lays it out in format 2, lengths and counts taken from the
// content, so a test states only what it is about.
struct TableSpec {
    uint32_t flags = 1;  // always_send
    std::vector<std::vector<Opt>> urls{{{66, "tftp://default/"}}};
    std::vector<std::string> boots;
    std::vector<std::vector<Opt>> extras;
    uint32_t default_url = 0;
    uint32_t default_extras = NONE;
    std::vector<std::string> vendor;
    std::vector<std::string> prefixes;
    std::vector<SiteSpec> sites;
    std::vector<DeviceSpec> devices;
    std::string end = "KFTE";

    std::vector<uint8_t> bytes() const {
        Writer w;
        auto sets = [&w](const std::vector<std::vector<Opt>>& all) {
            w.u32(static_cast<uint32_t>(all.size()));
            for (const auto& set : all) {
                w.u16(static_cast<uint32_t>(set.size()));
                for (const Opt& o : set) {
                    w.u8(o.code).u16(static_cast<uint32_t>(o.data.size())).raw(o.data);
                }
            }
        };
        w.raw("KFT2").u32(flags);
        sets(urls);
        w.u32(static_cast<uint32_t>(boots.size()));
        for (const auto& b : boots) {
            w.u16(static_cast<uint32_t>(b.size())).raw(b);
        }
        sets(extras);
        w.u32(default_url).u32(default_extras).u32(static_cast<uint32_t>(vendor.size()));
        for (const auto& v : vendor) {
            w.u16(static_cast<uint32_t>(v.size())).raw(v);
        }
        w.u32(static_cast<uint32_t>(prefixes.size()));
        for (const auto& p : prefixes) {
            w.u8(static_cast<uint32_t>(p.size())).raw(p);
        }
        w.u32(static_cast<uint32_t>(sites.size()));
        for (const auto& s : sites) {
            w.u32(s.url).u32(s.boot).u32(s.extras).u32(static_cast<uint32_t>(s.networks.size()));
            for (const auto& [network, mask] : s.networks) {
                w.u32(network).u32(mask);
            }
        }
        w.u32(static_cast<uint32_t>(devices.size()));
        for (const auto& d : devices) {
            w.u8(static_cast<uint32_t>(d.mac.size())).raw(d.mac).u32(d.url).u32(d.boot).u32(
                d.extras);
        }
        w.raw(end);
        return w.bytes();
    }

    std::shared_ptr<const DecisionTable> parse() const {
        std::vector<uint8_t> b = bytes();
        return DecisionTable::parse(b.data(), b.size());
    }
};

struct Req {
    std::string mac;
    std::optional<std::string> vendor = std::nullopt;
    std::optional<std::string> prl = std::nullopt;
    uint32_t giaddr = 0;
    uint32_t yiaddr = 0;
};

ByteSpan span(const std::string& s) {
    return ByteSpan{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The decision as readable text: "none", or "code:data ..." then "file:data" when the file
// field is set ("" for a phone that gets no option and no file field).
std::string decide(const DecisionTable& table, const Req& r, TableDecision* keep = nullptr) {
    TableRequest req;
    req.mac = span(r.mac);
    if (r.vendor) {
        req.vendor_class = span(*r.vendor);
    }
    if (r.prl) {
        req.prl = span(*r.prl);
    }
    req.giaddr = r.giaddr;
    req.yiaddr = r.yiaddr;
    TableDecision out;
    if (!table.decide(req, out)) {
        EXPECT_EQ(TableMatch::None, out.matched);
        EXPECT_EQ(0u, out.count);
        return "none";
    }
    std::string text;
    for (const auto& o : out) {
        text += (text.empty() ? "" : " ") + std::to_string(o.code) + ":" +
                std::string(reinterpret_cast<const char*>(o.data), o.size);
    }
    if (out.has_file) {
        text += (text.empty() ? "" : " ") + std::string("file:") +
                std::string(reinterpret_cast<const char*>(out.file.data), out.file.size);
    }
    if (keep) {
        *keep = out;
    }
    return text;
}

TableMatch matchOf(const DecisionTable& table, const Req& r) {
    TableDecision out;
    decide(table, r, &out);
    return out.matched;
}

const std::string PHONE = bin("0c383e000001");
const std::string OTHER = bin("001122334455");

// ---------------------------------------------------------------------------------------------
// Reading a table
// ---------------------------------------------------------------------------------------------

TEST(DecisionTable, minimalTableParses) {
    auto table = TableSpec{}.parse();
    EXPECT_TRUE(table->alwaysSend());
    EXPECT_EQ(1u, table->urls());
    EXPECT_EQ(0u, table->boots());
    EXPECT_EQ(0u, table->vendorPrefixes());
    EXPECT_EQ(0u, table->prefixes());
    EXPECT_EQ(0u, table->sites());
    EXPECT_EQ(0u, table->devices());
    EXPECT_EQ(68u, table->size());  // the layout spelled out in the parse error tests below
    EXPECT_EQ("none", decide(*table, {PHONE}));  // nothing identifies a phone
}

TEST(DecisionTable, countsForStatus) {
    TableSpec spec;
    spec.flags = 0;
    spec.urls = {{{66, "a"}}, {{66, "b"}}, {}};
    spec.boots = {"x.cfg", "y.cfg"};
    spec.vendor = {"fanvil", "acme"};
    spec.prefixes = {bin("0c383e"), bin("a8"), bin("0c383e")};  // a duplicate counts once
    spec.sites = {{NONE, NONE, {{ip(10, 0, 0, 0), ip(255, 0, 0, 0)}}}, {1, 0, {}}};
    spec.devices = {{PHONE, 0, NONE}, {OTHER, NONE, 1}, {bin("00"), NONE, NONE}};
    auto table = spec.parse();
    EXPECT_FALSE(table->alwaysSend());
    EXPECT_EQ(3u, table->urls());
    EXPECT_EQ(2u, table->boots());
    EXPECT_EQ(2u, table->vendorPrefixes());
    EXPECT_EQ(2u, table->prefixes());
    EXPECT_EQ(2u, table->sites());
    EXPECT_EQ(3u, table->devices());
}

TEST(DecisionTable, decisionOutlivesTheCallersBuffer) {
    // Options point into the table's own copy: the buffer it was parsed from may go away.
    std::shared_ptr<const DecisionTable> table;
    {
        TableSpec spec;
        spec.prefixes = {bin("0c383e")};
        std::vector<uint8_t> b = spec.bytes();
        table = DecisionTable::parse(b.data(), b.size());
        std::fill(b.begin(), b.end(), 0xAA);
    }
    EXPECT_EQ("66:tftp://default/", decide(*table, {PHONE}));
}

// ---------------------------------------------------------------------------------------------
// Rule 1: identification, device > vendor class > MAC prefix
// ---------------------------------------------------------------------------------------------

TableSpec identification() {
    TableSpec spec;
    spec.urls = {{{66, "default"}}, {{66, "device"}}};
    spec.vendor = {"fanvil"};
    spec.prefixes = {bin("0c383e")};
    spec.devices = {{PHONE, 1, NONE}, {OTHER, NONE, NONE}};
    return spec;
}

TEST(DecisionTable, deviceComesFirst) {
    auto table = identification().parse();
    EXPECT_EQ("66:device", decide(*table, {PHONE, std::string("Fanvil X4")}));
    EXPECT_EQ(TableMatch::Device, matchOf(*table, {PHONE, std::string("Fanvil X4")}));
    // A device is ours whatever its MAC prefix or vendor class.
    EXPECT_EQ("66:default", decide(*table, {OTHER, std::string("Acme")}));
    EXPECT_EQ(TableMatch::Device, matchOf(*table, {OTHER}));
}

TEST(DecisionTable, vendorClassBeforeMacPrefix) {
    auto table = identification().parse();
    std::string unknown = bin("0c383e999999");  // prefix of ours, not a device
    EXPECT_EQ(TableMatch::VendorClass, matchOf(*table, {unknown, std::string("fanvil")}));
    EXPECT_EQ(TableMatch::Oui, matchOf(*table, {unknown, std::string("Acme")}));
    EXPECT_EQ(TableMatch::VendorClass, matchOf(*table, {bin("99"), std::string("fanvilX")}));
    EXPECT_EQ("none", decide(*table, {bin("999999999999"), std::string("Acme fanvil")}));
}

TEST(DecisionTable, deviceMacMustMatchExactly) {
    auto table = identification().parse();
    // One byte more or less is not the device (but still has our prefix).
    EXPECT_EQ(TableMatch::Oui, matchOf(*table, {PHONE + bin("00")}));
    EXPECT_EQ(TableMatch::Oui, matchOf(*table, {PHONE.substr(0, 5)}));
    EXPECT_EQ("none", decide(*table, {OTHER.substr(0, 5)}));
    EXPECT_EQ("none", decide(*table, {std::string()}));
}

TEST(DecisionTable, devicesOfAnyMacLength) {
    TableSpec spec;
    spec.urls = {{{66, "default"}}, {{66, "empty"}}, {{66, "long"}}, {{66, "sixteen"}}};
    std::string long_mac = bin("0102030405060708090a0b0c0d0e0f1011121314");  // 20 bytes
    std::string sixteen = long_mac.substr(0, 16);
    spec.devices = {{"", 1, NONE}, {long_mac, 2, NONE}, {sixteen, 3, NONE}};
    auto table = spec.parse();
    EXPECT_EQ("66:empty", decide(*table, {""}));
    EXPECT_EQ("66:long", decide(*table, {long_mac}));
    EXPECT_EQ("66:sixteen", decide(*table, {sixteen}));
    EXPECT_EQ("none", decide(*table, {long_mac.substr(0, 17)}));
    EXPECT_EQ("none", decide(*table, {long_mac.substr(0, 19) + bin("00")}));
}

TEST(DecisionTable, macListedTwiceKeepsTheLastEntry) {
    // As Engine's dict of devices would; the writer never lists a MAC twice.
    TableSpec spec;
    spec.urls = {{{66, "default"}}, {{66, "first"}}, {{66, "last"}}};
    std::string long_mac(18, '\x07');
    spec.devices = {{PHONE, 1, NONE}, {long_mac, 1, NONE}, {PHONE, 2, NONE}, {long_mac, 2, NONE}};
    auto table = spec.parse();
    EXPECT_EQ(2u, table->devices());
    EXPECT_EQ("66:last", decide(*table, {PHONE}));
    EXPECT_EQ("66:last", decide(*table, {long_mac}));
}

TEST(DecisionTable, vendorClassLowercasesAsciiOnly) {
    TableSpec spec;
    // "fanvil", the UTF-8 of "ä" (c3 a4), Latin-1 "é" (e9), and "`" (0x60, which is '@' + 32)
    spec.vendor = {"fanvil", bin("c3a4"), bin("e9"), "`"};
    auto table = spec.parse();
    for (const char* vc : {"fanvil", "FANVIL", "FaNvIl X4 2.4", "fanvil\xff"}) {
        EXPECT_EQ(TableMatch::VendorClass, matchOf(*table, {OTHER, std::string(vc)})) << vc;
    }
    EXPECT_EQ(TableMatch::VendorClass, matchOf(*table, {OTHER, bin("c3a4")}));
    EXPECT_EQ(TableMatch::VendorClass, matchOf(*table, {OTHER, bin("e9")}));
    // Bytes >= 0x80 are not lowercased: "Ä" in UTF-8 (c3 84), Latin-1 "É" (c9) do not match.
    EXPECT_EQ("none", decide(*table, {OTHER, bin("c384")}));
    EXPECT_EQ("none", decide(*table, {OTHER, bin("c9")}));
    // Only A-Z move: '@' + 32 is '`', but '@' is no letter.
    EXPECT_EQ("none", decide(*table, {OTHER, std::string("@")}));
    EXPECT_EQ(TableMatch::VendorClass, matchOf(*table, {OTHER, std::string("`")}));
    EXPECT_EQ("none", decide(*table, {OTHER, std::string("fanvi")}));  // shorter than the prefix
    EXPECT_EQ("none", decide(*table, {OTHER, std::string(" fanvil")}));  // a prefix, not a find
}

TEST(DecisionTable, prefixIsComparedAsStored) {
    // The writer stores prefixes lowercased; an upper-case byte in the table can never match,
    // as in Python, where vendor_class.lower() has none left.
    TableSpec spec;
    spec.vendor = {"Fanvil"};
    auto table = spec.parse();
    EXPECT_EQ("none", decide(*table, {OTHER, std::string("Fanvil")}));
    EXPECT_EQ("none", decide(*table, {OTHER, std::string("fanvil")}));
}

TEST(DecisionTable, emptyVendorClassNeverMatches) {
    TableSpec spec;
    spec.vendor = {""};  // matches any non-empty vendor class
    auto table = spec.parse();
    EXPECT_EQ(TableMatch::VendorClass, matchOf(*table, {OTHER, std::string("x")}));
    EXPECT_EQ(TableMatch::VendorClass, matchOf(*table, {OTHER, std::string(1, '\0')}));
    EXPECT_EQ("none", decide(*table, {OTHER, std::string()}));  // present, empty
    EXPECT_EQ("none", decide(*table, {OTHER}));                 // absent
}

TEST(DecisionTable, macPrefixLongerThanMacDoesNotMatch) {
    TableSpec spec;
    spec.prefixes = {bin("0c383e11"), bin("a8"), bin("00112233445566778899aabbccddeeff")};
    auto table = spec.parse();
    EXPECT_EQ("none", decide(*table, {bin("0c383e")}));
    EXPECT_EQ(TableMatch::Oui, matchOf(*table, {bin("0c383e11")}));
    EXPECT_EQ(TableMatch::Oui, matchOf(*table, {bin("0c383e11ffffffffffffffffffffffffffffffff")}));
    EXPECT_EQ("none", decide(*table, {bin("0c383e12")}));
    EXPECT_EQ(TableMatch::Oui, matchOf(*table, {bin("a8")}));
    EXPECT_EQ("none", decide(*table, {""}));
    EXPECT_EQ("none", decide(*table, {bin("00112233445566778899aabbccddee")}));
    EXPECT_EQ(TableMatch::Oui, matchOf(*table, {bin("00112233445566778899aabbccddeeff")}));
    EXPECT_EQ(TableMatch::Oui, matchOf(*table, {bin("00112233445566778899aabbccddeeff00")}));
}

// ---------------------------------------------------------------------------------------------
// Rules 2 and 3: the site, then the URL and the boot file
// ---------------------------------------------------------------------------------------------

TEST(DecisionTable, firstSiteInOrderWins) {
    TableSpec spec;
    spec.urls = {{{66, "default"}}, {{66, "wide"}}, {{66, "narrow"}}};
    spec.prefixes = {bin("0c383e")};
    spec.sites = {
        {1, NONE, {{ip(192, 168, 0, 0), ip(255, 255, 0, 0)}, {ip(10, 0, 0, 0), ip(255, 0, 0, 0)}}},
        {2, NONE, {{ip(10, 1, 0, 0), ip(255, 255, 0, 0)}, {ip(172, 16, 0, 0), ip(255, 240, 0, 0)}}},
    };
    auto table = spec.parse();
    // 10.1.2.3 is in both sites: the first listed wins, not the narrower network.
    EXPECT_EQ("66:wide", decide(*table, {PHONE, {}, {}, ip(10, 1, 2, 3)}));
    // giaddr in the second site only, yiaddr in the first: the first site still wins.
    EXPECT_EQ("66:wide", decide(*table, {PHONE, {}, {}, ip(172, 16, 0, 1), ip(10, 9, 9, 9)}));
    EXPECT_EQ("66:narrow", decide(*table, {PHONE, {}, {}, ip(172, 31, 255, 255)}));
    EXPECT_EQ("66:narrow", decide(*table, {PHONE, {}, {}, 0, ip(172, 20, 0, 1)}));
    EXPECT_EQ("66:default", decide(*table, {PHONE, {}, {}, ip(172, 32, 0, 1), ip(11, 0, 0, 1)}));
    TableDecision out;
    decide(*table, {PHONE, {}, {}, ip(172, 16, 0, 1)}, &out);
    EXPECT_EQ(1u, out.site);
    decide(*table, {PHONE, {}, {}, ip(1, 2, 3, 4)}, &out);
    EXPECT_EQ(NONE, out.site);
}

TEST(DecisionTable, zeroAddressIsNeverConsidered) {
    TableSpec spec;
    spec.urls = {{{66, "default"}}, {{66, "zero"}}, {{66, "any"}}};
    spec.prefixes = {bin("0c383e")};
    spec.sites = {{1, NONE, {{ip(0, 0, 0, 0), ip(255, 0, 0, 0)}}},   // 0.0.0.0/8
                  {2, NONE, {{0, 0}}}};                               // 0.0.0.0/0
    auto table = spec.parse();
    EXPECT_EQ("66:default", decide(*table, {PHONE, {}, {}, 0, 0}));
    EXPECT_EQ("66:zero", decide(*table, {PHONE, {}, {}, 0, ip(0, 0, 0, 1)}));
    EXPECT_EQ("66:zero", decide(*table, {PHONE, {}, {}, ip(0, 0, 0, 1), 0}));
    EXPECT_EQ("66:any", decide(*table, {PHONE, {}, {}, ip(255, 255, 255, 255), 0}));
    EXPECT_EQ("66:any", decide(*table, {PHONE, {}, {}, 0, ip(1, 0, 0, 0)}));
}

TEST(DecisionTable, phoneOptionsFallBackPerCode) {
    // Per code: the device's set, else the site's, else the default's (Engine's merge()).
    TableSpec spec;
    spec.urls = {{{66, "u"}}};
    spec.boots = {"id.cfg"};
    spec.extras = {{{2, "D2"}, {42, "D42"}, {132, "D132"}},  // 0: default
                   {{42, "S42"}, {120, "S120"}},              // 1: site
                   {{132, "V132"}}};                          // 2: device
    spec.default_extras = 0;
    spec.prefixes = {bin("0c383e")};
    spec.sites = {{NONE, NONE, {{ip(10, 0, 0, 0), ip(255, 0, 0, 0)}}, 1}};
    std::string dev = bin("0c383e000009");
    spec.devices = {{dev, NONE, 0, 2}};
    auto table = spec.parse();
    EXPECT_EQ(3u, table->extras());
    EXPECT_EQ("2:D2 42:D42 66:u 132:D132", decide(*table, {PHONE}));
    EXPECT_EQ("2:D2 42:S42 66:u 120:S120 132:D132", decide(*table, {PHONE, {}, {}, 0,
                                                                    ip(10, 0, 0, 7)}));
    EXPECT_EQ("2:D2 42:S42 66:u 67:id.cfg 120:S120 132:V132 file:id.cfg",
              decide(*table, {dev, {}, {}, ip(10, 1, 2, 3)}));
    // Without always_send, option 55 filters the merged set; an unasked code of the device
    // still hides the site's and the default's.
    spec.flags = 0;
    table = spec.parse();
    EXPECT_EQ("42:S42 file:id.cfg",
              decide(*table, {dev, {}, std::string("\x2a", 1), ip(10, 1, 2, 3)}));
    EXPECT_EQ("132:V132 file:id.cfg", decide(*table, {dev, {}, std::string("\x84\x01", 2)}));
    EXPECT_EQ("file:id.cfg", decide(*table, {dev, {}, std::string("\x01", 1)}));
}

TEST(DecisionTable, siteWithoutNetworksNeverMatches) {
    TableSpec spec;
    spec.urls = {{{66, "default"}}, {{66, "empty"}}};
    spec.prefixes = {bin("0c383e")};
    spec.sites = {{1, NONE, {}}};
    auto table = spec.parse();
    EXPECT_EQ("66:default", decide(*table, {PHONE, {}, {}, ip(10, 0, 0, 1), ip(10, 0, 0, 2)}));
}

TEST(DecisionTable, urlAndBootFallBackIndependently) {
    TableSpec spec;
    spec.urls = {{{66, "default"}}, {{66, "site"}}, {{66, "device"}}};
    spec.boots = {"site.cfg", "device.cfg"};
    spec.prefixes = {bin("0c383e")};
    spec.sites = {{1, 0, {{ip(10, 0, 0, 0), ip(255, 0, 0, 0)}}},
                  {NONE, NONE, {{ip(11, 0, 0, 0), ip(255, 0, 0, 0)}}}};
    std::string both = bin("0c383e000001"), url_only = bin("0c383e000002"),
                boot_only = bin("0c383e000003"), bare = bin("0c383e000004");
    spec.devices = {{both, 2, 1}, {url_only, 2, NONE}, {boot_only, NONE, 1}, {bare, NONE, NONE}};
    auto table = spec.parse();
    uint32_t in_site = ip(10, 0, 0, 5), in_bare_site = ip(11, 0, 0, 5), nowhere = ip(12, 0, 0, 5);
    EXPECT_EQ("66:device 67:device.cfg file:device.cfg", decide(*table, {both, {}, {}, in_site}));
    EXPECT_EQ("66:device 67:site.cfg file:site.cfg", decide(*table, {url_only, {}, {}, in_site}));
    EXPECT_EQ("66:site 67:device.cfg file:device.cfg",
              decide(*table, {boot_only, {}, {}, in_site}));
    EXPECT_EQ("66:site 67:site.cfg file:site.cfg", decide(*table, {bare, {}, {}, in_site}));
    EXPECT_EQ("66:device", decide(*table, {url_only, {}, {}, in_bare_site}));
    EXPECT_EQ("66:default 67:device.cfg file:device.cfg",
              decide(*table, {boot_only, {}, {}, nowhere}));
    EXPECT_EQ("66:default", decide(*table, {bare, {}, {}, nowhere}));
    EXPECT_EQ("66:site 67:site.cfg file:site.cfg", decide(*table, {bin("0c383e0000ff"), {}, {},
                                                                   0, in_site}));
}

// ---------------------------------------------------------------------------------------------
// Rules 4 and 5: option 67 merged, option 55 filtering
// ---------------------------------------------------------------------------------------------

TEST(DecisionTable, bootFileMergedInCodeOrder) {
    TableSpec spec;
    spec.urls = {{{43, "u"}, {66, "u"}, {150, "u"}}, {{43, "u"}}, {{150, "u"}}, {}};
    spec.boots = {"b"};
    spec.prefixes = {bin("0c383e")};
    std::string a = bin("0c383e000001"), b = bin("0c383e000002"), c = bin("0c383e000003"),
                d = bin("0c383e000004");
    spec.devices = {{a, 0, 0}, {b, 1, 0}, {c, 2, 0}, {d, 3, 0}};
    auto table = spec.parse();
    EXPECT_EQ("43:u 66:u 67:b 150:u file:b", decide(*table, {a}));
    EXPECT_EQ("43:u 67:b file:b", decide(*table, {b}));
    EXPECT_EQ("67:b 150:u file:b", decide(*table, {c}));
    EXPECT_EQ("67:b file:b", decide(*table, {d}));  // an empty option set
}

TEST(DecisionTable, bootFileMergedInDataOrderOnEqualCodes) {
    // Python's sorted() over (code, bytes): on equal codes, the data decides, a proper prefix
    // first and bytes unsigned. The writer never puts 67 in a URL's set; the rule still holds.
    TableSpec spec;
    spec.urls = {{{67, "m"}, {68, "x"}}, {{67, "ab"}}, {{67, bin("80")}}};
    spec.boots = {"a", "z", "", "abc", bin("7f")};
    spec.prefixes = {bin("0c383e")};
    spec.devices = {{bin("0c383e000001"), 0, 0}, {bin("0c383e000002"), 0, 1},
                    {bin("0c383e000003"), 0, 2}, {bin("0c383e000004"), 1, 3},
                    {bin("0c383e000005"), 2, 4}, {bin("0c383e000006"), 0, NONE}};
    auto table = spec.parse();
    EXPECT_EQ("67:a 67:m 68:x file:a", decide(*table, {bin("0c383e000001")}));
    EXPECT_EQ("67:m 67:z 68:x file:z", decide(*table, {bin("0c383e000002")}));
    EXPECT_EQ("67: 67:m 68:x file:", decide(*table, {bin("0c383e000003")}));
    EXPECT_EQ("67:ab 67:abc file:abc", decide(*table, {bin("0c383e000004")}));
    EXPECT_EQ("67:" + bin("7f") + " 67:" + bin("80") + " file:" + bin("7f"),
              decide(*table, {bin("0c383e000005")}));
    EXPECT_EQ("67:m 68:x", decide(*table, {bin("0c383e000006")}));
}

TableSpec filtering(uint32_t flags) {
    TableSpec spec;
    spec.flags = flags;
    spec.urls = {{{43, "u"}, {66, "u"}, {200, "u"}}};
    spec.boots = {"b"};
    spec.prefixes = {bin("0c383e")};
    spec.devices = {{PHONE, NONE, 0}};
    return spec;
}

TEST(DecisionTable, optionsFilteredByParameterRequestList) {
    auto table = filtering(0).parse();
    EXPECT_FALSE(table->alwaysSend());
    // Decided, with no option: the file field does not depend on option 55.
    EXPECT_EQ("file:b", decide(*table, {PHONE}));
    EXPECT_EQ("file:b", decide(*table, {PHONE, {}, std::string()}));
    EXPECT_EQ("file:b", decide(*table, {PHONE, {}, bin("0103060f")}));
    EXPECT_EQ("66:u file:b", decide(*table, {PHONE, {}, bin("0142")}));
    EXPECT_EQ("43:u 67:b 200:u file:b", decide(*table, {PHONE, {}, bin("c8432b43c8")}));
    EXPECT_EQ("43:u 66:u 67:b 200:u file:b", decide(*table, {PHONE, {}, bin("c843422b")}));
    // Without a device, no boot file and so no file field: an empty decision, not "none".
    EXPECT_EQ("", decide(*table, {bin("0c383e999999")}));
    EXPECT_EQ("none", decide(*table, {OTHER, {}, bin("2b42")}));
}

TEST(DecisionTable, alwaysSendIgnoresParameterRequestList) {
    auto table = filtering(1).parse();
    EXPECT_TRUE(table->alwaysSend());
    for (const std::optional<std::string>& prl :
         {std::optional<std::string>(), std::optional<std::string>(""),
          std::optional<std::string>(bin("01")), std::optional<std::string>(bin("42"))}) {
        EXPECT_EQ("43:u 66:u 67:b 200:u file:b", decide(*table, {PHONE, {}, prl}));
    }
}

TEST(DecisionTable, decisionIsResetBetweenCalls) {
    auto table = filtering(1).parse();
    TableDecision out;
    TableRequest req;
    req.mac = span(PHONE);
    ASSERT_TRUE(table->decide(req, out));
    EXPECT_EQ(4u, out.count);
    EXPECT_TRUE(out.has_file);
    std::string other = bin("0c383e999999");
    req.mac = span(other);
    ASSERT_TRUE(table->decide(req, out));
    EXPECT_EQ(3u, out.count);
    EXPECT_FALSE(out.has_file);
    EXPECT_EQ(TableMatch::Oui, out.matched);
    req.mac = span(OTHER);
    EXPECT_FALSE(table->decide(req, out));
    EXPECT_EQ(0u, out.count);
    EXPECT_FALSE(out.has_file);
    EXPECT_EQ(TableMatch::None, out.matched);
}

TEST(DecisionTable, concurrentDecisionsAgree) {
    // decide() is const and writes only to `out`: threads share one table.
    auto table = filtering(0).parse();
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&table, &wrong, t] {
            std::string prl = t % 2 ? bin("42") : bin("2b43");
            std::string expected = t % 2 ? "66:u file:b" : "43:u 67:b file:b";
            for (int i = 0; i < 20000; ++i) {
                if (decide(*table, {PHONE, {}, prl}) != expected) {
                    ++wrong;
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    EXPECT_EQ(0, wrong.load());
}

// ---------------------------------------------------------------------------------------------
// Parse errors: each with its exact text. Offsets: the minimal table (TableSpec{}) is
//   0 magic, 4 flags, 8 url count, 12 url 0 option count, 14 code, 15 length, 17 data (15
//   bytes), 32 boot count, 36 default, 40 vendor count, 44 MAC prefix count, 48 site count,
//   52 device count, 56 "KFTE", 60 end.
// ---------------------------------------------------------------------------------------------

std::string parseError(const std::vector<uint8_t>& b) {
    try {
        DecisionTable::parse(b.data(), b.size());
    } catch (const std::invalid_argument& exc) {
        return exc.what();
    }
    return "(parsed)";
}

std::string parseError(const TableSpec& spec) { return parseError(spec.bytes()); }

TEST(DecisionTableParse, layoutOfTheMinimalTable) {
    // The offsets the tests below rely on: 0 magic, 4 flags, 8 url count, 12 url 0 (14 code,
    // 15 length, 17 data), 32 boot count, 36 extras count, 40 default url, 44 default extras,
    // 48 vendor prefix count, 52 MAC prefix count, 56 site count, 60 device count, 64 end.
    std::vector<uint8_t> b = TableSpec{}.bytes();
    ASSERT_EQ(68u, b.size());
    EXPECT_EQ("KFTE", std::string(b.begin() + 64, b.end()));
    EXPECT_EQ(15, b[15]);  // option 66's length
    EXPECT_EQ("(parsed)", parseError(b));
}

TEST(DecisionTableParse, truncatedAnywhere) {
    EXPECT_EQ("decision table: offset 0: truncated: magic needs 4 bytes, 0 left",
              parseError(std::vector<uint8_t>{}));
    std::vector<uint8_t> full = TableSpec{}.bytes();
    auto cut = [&](size_t n) {
        return parseError(std::vector<uint8_t>(full.begin(), full.begin() + n));
    };
    EXPECT_EQ("decision table: offset 0: truncated: magic needs 4 bytes, 3 left", cut(3));
    EXPECT_EQ("decision table: offset 4: truncated: flags needs 4 bytes, 2 left", cut(6));
    EXPECT_EQ("decision table: offset 8: truncated: url count needs 4 bytes, 0 left", cut(8));
    EXPECT_EQ("decision table: offset 8: url count 1 runs past the end (1 bytes left, each "
              "entry at least 2)",
              cut(13));
    EXPECT_EQ("decision table: offset 14: truncated: url 0 option 0 code needs 1 bytes, 0 left",
              cut(14));
    EXPECT_EQ("decision table: offset 15: truncated: url 0 option 0 length needs 2 bytes, 1 left",
              cut(16));
    EXPECT_EQ("decision table: offset 17: truncated: url 0 option 0 data needs 15 bytes, 14 left",
              cut(31));
    EXPECT_EQ("decision table: offset 32: truncated: boot count needs 4 bytes, 0 left", cut(32));
    EXPECT_EQ("decision table: offset 36: truncated: extras count needs 4 bytes, 0 left",
              cut(36));
    EXPECT_EQ("decision table: offset 40: truncated: default url needs 4 bytes, 0 left", cut(40));
    EXPECT_EQ("decision table: offset 44: truncated: default extras needs 4 bytes, 0 left",
              cut(44));
    EXPECT_EQ("decision table: offset 48: truncated: vendor prefix count needs 4 bytes, 0 left",
              cut(48));
    EXPECT_EQ("decision table: offset 52: truncated: MAC prefix count needs 4 bytes, 0 left",
              cut(52));
    EXPECT_EQ("decision table: offset 56: truncated: site count needs 4 bytes, 0 left", cut(56));
    EXPECT_EQ("decision table: offset 60: truncated: device count needs 4 bytes, 0 left",
              cut(60));
    EXPECT_EQ("decision table: offset 64: truncated: end marker needs 4 bytes, 0 left", cut(64));
    EXPECT_EQ("decision table: offset 64: truncated: end marker needs 4 bytes, 3 left", cut(67));
}

TEST(DecisionTableParse, truncatedEntries) {
    TableSpec spec;
    spec.boots = {"boot.cfg"};          // 32 count, 36 length, 38 data (8), 46 extras count
    std::vector<uint8_t> b = spec.bytes();
    EXPECT_EQ("decision table: offset 38: truncated: boot 0 data needs 8 bytes, 4 left",
              parseError(std::vector<uint8_t>(b.begin(), b.begin() + 42)));

    spec = TableSpec{};
    spec.extras = {{{42, "ntp!"}}};     // 36 count, 40 option count, 42 code, 43 length, 45 data
    b = spec.bytes();
    EXPECT_EQ("decision table: offset 45: truncated: extras 0 option 0 data needs 4 bytes, 1 left",
              parseError(std::vector<uint8_t>(b.begin(), b.begin() + 46)));

    spec = TableSpec{};
    spec.vendor = {"fanvil"};           // 48 count, 52 length, 54 prefix (6)
    b = spec.bytes();
    // Fewer bytes than the smallest entry: the count is refused before the entry is read.
    EXPECT_EQ("decision table: offset 48: vendor prefix count 1 runs past the end (1 bytes "
              "left, each entry at least 2)",
              parseError(std::vector<uint8_t>(b.begin(), b.begin() + 53)));
    EXPECT_EQ("decision table: offset 54: truncated: vendor prefix 0 needs 6 bytes, 2 left",
              parseError(std::vector<uint8_t>(b.begin(), b.begin() + 56)));

    spec = TableSpec{};
    spec.prefixes = {bin("0c383e")};    // 52 count, 56 length, 57 prefix (3)
    b = spec.bytes();
    EXPECT_EQ("decision table: offset 57: truncated: MAC prefix 0 needs 3 bytes, 2 left",
              parseError(std::vector<uint8_t>(b.begin(), b.begin() + 59)));

    spec = TableSpec{};
    spec.sites = {{0, NONE, {{ip(10, 0, 0, 0), ip(255, 0, 0, 0)}}}};
    // 56 count, 60 url, 64 boot, 68 extras, 72 network count, 76 address, 80 mask, 84 devices
    b = spec.bytes();
    // Sites and networks have a fixed size: any cut in one is caught by its count.
    EXPECT_EQ("decision table: offset 56: site count 1 runs past the end (7 bytes left, each "
              "entry at least 16)",
              parseError(std::vector<uint8_t>(b.begin(), b.begin() + 67)));
    EXPECT_EQ("decision table: offset 72: site 0 network count 1 runs past the end (4 bytes "
              "left, each entry at least 8)",
              parseError(std::vector<uint8_t>(b.begin(), b.begin() + 80)));

    spec = TableSpec{};
    spec.devices = {{PHONE, 0, NONE}};  // 60 count, 64 MAC length, 65 MAC, 71 url, 75 boot,
                                        // 79 extras, 83 end
    b = spec.bytes();
    // A 6-byte MAC makes 19 of the 13 bytes an entry needs at least: the url is never cut.
    EXPECT_EQ("decision table: offset 75: truncated: device 0 boot needs 4 bytes, 2 left",
              parseError(std::vector<uint8_t>(b.begin(), b.begin() + 77)));
    EXPECT_EQ("decision table: offset 79: truncated: device 0 extras needs 4 bytes, 1 left",
              parseError(std::vector<uint8_t>(b.begin(), b.begin() + 80)));
    spec.devices = {{std::string(20, 'm'), 0, NONE}};  // 65 MAC (20 bytes), 85 url
    b = spec.bytes();
    EXPECT_EQ("decision table: offset 65: truncated: device 0 MAC needs 20 bytes, 12 left",
              parseError(std::vector<uint8_t>(b.begin(), b.begin() + 77)));
    EXPECT_EQ("decision table: offset 85: truncated: device 0 url needs 4 bytes, 2 left",
              parseError(std::vector<uint8_t>(b.begin(), b.begin() + 87)));
}

TEST(DecisionTableParse, countsThatRunPastTheEnd) {
    // Refused before anything is reserved: a corrupt count must not allocate gigabytes.
    Writer w;
    w.raw("KFT2").u32(1).u32(0xFFFFFFFFu);
    EXPECT_EQ("decision table: offset 8: url count 4294967295 runs past the end (0 bytes left, "
              "each entry at least 2)",
              parseError(w.bytes()));

    std::vector<uint8_t> b = TableSpec{}.bytes();
    auto patch32 = [](std::vector<uint8_t> v, size_t at, uint32_t value) {
        for (int i = 0; i < 4; ++i) {
            v[at + i] = static_cast<uint8_t>(value >> (8 * i));
        }
        return v;
    };
    EXPECT_EQ("decision table: offset 32: boot count 17 runs past the end (32 bytes left, each "
              "entry at least 2)",
              parseError(patch32(b, 32, 17)));
    EXPECT_EQ("decision table: offset 36: extras count 15 runs past the end (28 bytes left, "
              "each entry at least 2)",
              parseError(patch32(b, 36, 15)));
    EXPECT_EQ("decision table: offset 48: vendor prefix count 9 runs past the end (16 bytes "
              "left, each entry at least 2)",
              parseError(patch32(b, 48, 9)));
    EXPECT_EQ("decision table: offset 52: MAC prefix count 7 runs past the end (12 bytes left, "
              "each entry at least 2)",
              parseError(patch32(b, 52, 7)));
    EXPECT_EQ("decision table: offset 56: site count 1 runs past the end (8 bytes left, each "
              "entry at least 16)",
              parseError(patch32(b, 56, 1)));
    EXPECT_EQ("decision table: offset 60: device count 1 runs past the end (4 bytes left, each "
              "entry at least 13)",
              parseError(patch32(b, 60, 1)));

    TableSpec spec;
    spec.sites = {{NONE, NONE, {}}};  // 56 count, 60 url, 64 boot, 68 extras, 72 network count
    EXPECT_EQ("decision table: offset 72: site 0 network count 2 runs past the end (8 bytes "
              "left, each entry at least 8)",
              parseError(patch32(spec.bytes(), 72, 2)));
}

TEST(DecisionTableParse, badMagic) {
    std::vector<uint8_t> b = TableSpec{}.bytes();
    b[3] = '1';  // format 1, before the phone options: refused, not misread
    EXPECT_EQ("decision table: offset 0: bad magic \"KFT1\" (expected \"KFT2\")", parseError(b));
    b[0] = 0;
    b[1] = 0xff;
    b[2] = '"';
    EXPECT_EQ("decision table: offset 0: bad magic \"\\x00\\xff\\x22" "1\" (expected \"KFT2\")",
              parseError(b));
}

TEST(DecisionTableParse, unknownFlags) {
    TableSpec spec;
    spec.flags = 3;
    EXPECT_EQ("decision table: offset 4: unknown flags 0x00000003 (only bit 0, always_send, is "
              "defined in format 2)",
              parseError(spec));
    spec.flags = 0x80000000u;
    EXPECT_EQ("decision table: offset 4: unknown flags 0x80000000 (only bit 0, always_send, is "
              "defined in format 2)",
              parseError(spec));
}

TEST(DecisionTableParse, optionCodesZeroAnd255) {
    TableSpec spec;
    // url 0 at 12 (count, 14 code, 15 length, 17 "a"); url 1 at 18 (count, 20 code 43, 21
    // length, 23 "a", 24 code 0)
    spec.urls = {{{66, "a"}}, {{43, "a"}, {0, "a"}}};
    EXPECT_EQ("decision table: offset 24: url 1 option 1 has code 0 (0 and 255 are pad and end, "
              "not options)",
              parseError(spec));
    spec.urls = {{{255, ""}}};
    EXPECT_EQ("decision table: offset 14: url 0 option 0 has code 255 (0 and 255 are pad and "
              "end, not options)",
              parseError(spec));
}

TEST(DecisionTableParse, optionDataLongerThan255) {
    TableSpec spec;
    spec.urls = {{{43, std::string(255, 'a')}}};
    EXPECT_EQ("(parsed)", parseError(spec));
    spec.urls = {{{43, std::string(256, 'a')}}};
    EXPECT_EQ("decision table: offset 15: url 0 option 0 (code 43) data is 256 bytes; at most "
              "255 fit one option",
              parseError(spec));
    spec = TableSpec{};
    spec.boots = {std::string(255, 'b')};
    EXPECT_EQ("(parsed)", parseError(spec));
    spec.boots = {"x", std::string(300, 'b')};  // 32 count, 36 boot 0, 39 boot 1
    EXPECT_EQ("decision table: offset 39: boot 1 is 300 bytes; at most 255 fit option 67",
              parseError(spec));
}

TEST(DecisionTableParse, tooManyOptionsForADecision) {
    TableSpec spec;
    spec.urls = {std::vector<Opt>(7, Opt{66, "u"})};
    EXPECT_EQ("(parsed)", parseError(spec));
    spec.urls = {std::vector<Opt>(8, Opt{66, "u"})};
    EXPECT_EQ("decision table: offset 12: url 0 has 8 options; at most 7 fit a decision",
              parseError(spec));
}

TEST(DecisionTableParse, optionSetOutOfOrder) {
    TableSpec spec;
    spec.urls = {{{66, "u"}, {43, "u"}}};  // 14 code 66, 15 length, 17 "u", 18 code 43
    EXPECT_EQ("decision table: offset 18: url 0 option 1 (code 43) is out of order: an option "
              "set is sorted by code, then data",
              parseError(spec));
    spec.urls = {{{66, "b"}, {66, "a"}}};
    EXPECT_EQ("decision table: offset 18: url 0 option 1 (code 66) is out of order: an option "
              "set is sorted by code, then data",
              parseError(spec));
    spec.urls = {{{66, "a"}, {66, "a"}, {66, "ab"}}};  // equal is in order
    EXPECT_EQ("(parsed)", parseError(spec));
}

TEST(DecisionTableParse, defaultUrl) {
    TableSpec spec;
    spec.default_url = NONE;
    EXPECT_EQ("decision table: offset 40: default url is NONE; it must name a url",
              parseError(spec));
    spec.default_url = 1;
    EXPECT_EQ("decision table: offset 40: default url index 1 is out of range (1 urls)",
              parseError(spec));
    spec.urls = {};  // 8 count, 12 boot count, 16 extras count, 20 default
    spec.default_url = 0;
    EXPECT_EQ("decision table: offset 20: default url index 0 is out of range (0 urls)",
              parseError(spec));
}

TEST(DecisionTableParse, extrasSets) {
    TableSpec spec;
    spec.default_extras = 0;  // no extras sets
    EXPECT_EQ("decision table: offset 44: default extras index 0 is out of range (0 extras sets)",
              parseError(spec));
    spec = TableSpec{};
    spec.extras = {{{67, "x"}}};  // 36 count, 40 option count, 42 code
    EXPECT_EQ("decision table: offset 42: extras 0 option 0 has code 67, the boot file's",
              parseError(spec));
    spec.extras = {{{42, "a"}, {42, "b"}}};  // 42 code, 43 length, 45 "a", 46 code
    EXPECT_EQ("decision table: offset 46: extras 0 option 1 repeats code 42 (an extras set has "
              "each code once)",
              parseError(spec));
    spec.extras = {{{42, "b"}, {2, "a"}}};
    EXPECT_EQ("decision table: offset 46: extras 0 option 1 (code 2) is out of order: an option "
              "set is sorted by code, then data",
              parseError(spec));
    std::vector<Opt> nine;
    for (uint8_t code = 130; code < 139; ++code) nine.push_back(Opt{code, "v"});
    spec.extras = {nine};
    EXPECT_EQ("decision table: offset 40: extras 0 has 9 options; at most 8 fit a decision",
              parseError(spec));
    nine.pop_back();
    spec.extras = {nine};
    EXPECT_EQ("(parsed)", parseError(spec));
}

TEST(DecisionTableParse, siteIndexOutOfRange) {
    TableSpec spec;
    spec.boots = {"b"};  // 32 count, 36 boot 0 (3 bytes), 39 extras count, 43 default, 47
                         // default extras, 51 vendor, 55 prefixes, 59 site count, 63 url, 67
                         // boot, 71 extras, 75 network count
    spec.sites = {{1, NONE, {}}};
    EXPECT_EQ("decision table: offset 63: site 0 url index 1 is out of range (1 urls)",
              parseError(spec));
    spec.sites = {{0, 0, {}}, {NONE, 1, {}}};  // site 1 at 79: url, 83 boot
    EXPECT_EQ("decision table: offset 83: site 1 boot index 1 is out of range (1 boots)",
              parseError(spec));
    spec.sites = {{0, 0, {}, 0}};
    EXPECT_EQ("decision table: offset 71: site 0 extras index 0 is out of range (0 extras sets)",
              parseError(spec));
}

TEST(DecisionTableParse, deviceIndexOutOfRange) {
    TableSpec spec;
    spec.devices = {{PHONE, 7, NONE}};  // 60 count, 64 MAC length, 65 MAC, 71 url, 75 boot,
                                        // 79 extras
    EXPECT_EQ("decision table: offset 71: device 0 url index 7 is out of range (1 urls)",
              parseError(spec));
    spec.devices = {{PHONE, 0, 0}};
    EXPECT_EQ("decision table: offset 75: device 0 boot index 0 is out of range (0 boots)",
              parseError(spec));
    spec.devices = {{PHONE, 0, NONE, 0}};
    EXPECT_EQ("decision table: offset 79: device 0 extras index 0 is out of range (0 extras "
              "sets)",
              parseError(spec));
}

TEST(DecisionTableParse, macPrefixLength) {
    TableSpec spec;
    spec.prefixes = {bin("0c"), ""};  // 52 count, 56 prefix 0 length, 58 prefix 1 length
    EXPECT_EQ("decision table: offset 58: MAC prefix 1 length 0 is outside 1..16",
              parseError(spec));
    spec.prefixes = {std::string(17, 'x')};
    EXPECT_EQ("decision table: offset 56: MAC prefix 0 length 17 is outside 1..16",
              parseError(spec));
    spec.prefixes = {std::string(16, 'x')};
    EXPECT_EQ("(parsed)", parseError(spec));
}

TEST(DecisionTableParse, endMarker) {
    TableSpec spec;
    spec.end = "KFT1";
    EXPECT_EQ("decision table: offset 64: bad end marker \"KFT1\" (expected \"KFTE\")",
              parseError(spec));
    spec.end = "KFTE\n";
    EXPECT_EQ("decision table: offset 68: 1 trailing bytes after \"KFTE\"", parseError(spec));
    spec.end = "KFTEKFTE";
    EXPECT_EQ("decision table: offset 68: 4 trailing bytes after \"KFTE\"", parseError(spec));
}

} // namespace
