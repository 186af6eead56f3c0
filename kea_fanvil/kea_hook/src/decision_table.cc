// DecisionTable: reader and evaluator of the decision table, format 2. The format and the
// rules are defined in decision_table.h's opening comment (the issue 16 spec, copied); the
// evaluation must give what kea_fanvil.engine.Engine.decide_raw gives, byte for byte, which
// tests/test_decision_table.py checks through tests/cpp/table_eval.
#include "decision_table.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string_view>

namespace fanvil {
namespace {

constexpr uint8_t MAGIC[4] = {'K', 'F', 'T', '2'};
constexpr uint8_t END[4] = {'K', 'F', 'T', 'E'};
constexpr uint32_t FLAG_ALWAYS_SEND = 1u;
constexpr uint8_t OPTION_BOOTFILE_NAME = 67;  // RFC 2132 section 9.5
constexpr size_t MAX_OPTION_DATA = 255;       // RFC 2132 section 2: one length octet

// Four marker bytes as they would be read: printable ASCII as is, the rest as \xNN, so that
// the error says what was found rather than only that it is wrong.
std::string shown(const uint8_t* data, size_t size) {
    static const char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (size_t i = 0; i < size; ++i) {
        uint8_t b = data[i];
        if (b >= 0x20 && b < 0x7f && b != '"' && b != '\\') {
            out += static_cast<char>(b);
        } else {
            out += "\\x";
            out += hex[b >> 4];
            out += hex[b & 0xf];
        }
    }
    return out + "\"";
}

// (code, data) order, as Python compares (int, bytes) tuples: code first, then the bytes
// unsigned and lexicographic, a proper prefix first.
bool less(uint8_t code_a, const uint8_t* a, size_t size_a, uint8_t code_b, const uint8_t* b,
          size_t size_b) {
    if (code_a != code_b) {
        return code_a < code_b;
    }
    return std::lexicographical_compare(a, a + size_a, b, b + size_b);
}

inline uint8_t asciiLower(uint8_t b) {
    // Python's bytes.lower(): A-Z only; bytes >= 0x80 are not letters to it.
    return (b >= 'A' && b <= 'Z') ? static_cast<uint8_t>(b + ('a' - 'A')) : b;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

// A cursor over the table. Every read checks the bytes are there and names the field when they
// are not; every error carries the offset of the field at fault.
struct DecisionTable::Parser {
    const uint8_t* data;
    size_t size;
    size_t pos = 0;

    [[noreturn]] void fail(size_t offset, const std::string& what) const {
        throw std::invalid_argument("decision table: offset " + std::to_string(offset) + ": " +
                                    what);
    }

    size_t left() const { return size - pos; }

    void need(size_t n, const std::string& what) const {
        if (left() < n) {
            fail(pos, "truncated: " + what + " needs " + std::to_string(n) + " bytes, " +
                          std::to_string(left()) + " left");
        }
    }

    uint8_t u8(const std::string& what) {
        need(1, what);
        return data[pos++];
    }

    uint16_t u16(const std::string& what) {
        need(2, what);
        uint16_t v = static_cast<uint16_t>(data[pos] | (data[pos + 1] << 8));
        pos += 2;
        return v;
    }

    uint32_t u32(const std::string& what) {
        need(4, what);
        uint32_t v = static_cast<uint32_t>(data[pos]) |
                     static_cast<uint32_t>(data[pos + 1]) << 8 |
                     static_cast<uint32_t>(data[pos + 2]) << 16 |
                     static_cast<uint32_t>(data[pos + 3]) << 24;
        pos += 4;
        return v;
    }

    // Skips n bytes, returning the offset where they start.
    uint32_t skip(size_t n, const std::string& what) {
        need(n, what);
        uint32_t start = static_cast<uint32_t>(pos);
        pos += n;
        return start;
    }

    // A count of entries each at least `min_size` bytes long: refused before anything is
    // reserved for it, so a corrupt count cannot make the reader allocate gigabytes.
    uint32_t count(const std::string& what, size_t min_size) {
        size_t at = pos;
        uint32_t n = u32(what + " count");
        if (n > left() / min_size) {
            fail(at, what + " count " + std::to_string(n) + " runs past the end (" +
                         std::to_string(left()) + " bytes left, each entry at least " +
                         std::to_string(min_size) + ")");
        }
        return n;
    }

    void marker(const uint8_t (&expected)[4], const std::string& what) {
        size_t at = pos;
        need(4, what);
        if (std::memcmp(data + pos, expected, 4) != 0) {
            fail(at, "bad " + what + " " + shown(data + pos, 4) + " (expected " +
                         shown(expected, 4) + ")");
        }
        pos += 4;
    }

    // A url or boot index: NONE when `optional`, else below `limit`.
    uint32_t index(const std::string& what, const char* kind, size_t limit, bool optional) {
        size_t at = pos;
        uint32_t v = u32(what);
        if (v == NONE && optional) {
            return v;
        }
        if (v == NONE) {
            fail(at, what + " is NONE; it must name a " + std::string(kind));
        }
        if (v >= limit) {
            fail(at, what + " index " + std::to_string(v) + " is out of range (" +
                         std::to_string(limit) + " " + kind + "s)");
        }
        return v;
    }
};

DecisionTable::Key DecisionTable::Key::of(const uint8_t* data, size_t len) {
    Key k;
    k.len = static_cast<uint8_t>(len);
    size_t first = std::min<size_t>(len, 8);
    if (first > 0) {
        std::memcpy(&k.lo, data, first);
    }
    if (len > 8) {
        std::memcpy(&k.hi, data + 8, len - 8);
    }
    return k;
}

size_t DecisionTable::KeyHash::operator()(const Key& k) const {
    // MACs of one vendor share their first three bytes: mix every bit of both halves in.
    uint64_t h = k.lo * 0x9E3779B97F4A7C15ull;
    h ^= (k.hi + k.len) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return static_cast<size_t>(h);
}

std::shared_ptr<const DecisionTable> DecisionTable::parse(const uint8_t* data, size_t size) {
    // Offsets into the storage are u32; no real table comes near this.
    if (size > std::numeric_limits<uint32_t>::max()) {
        throw std::invalid_argument("decision table: offset 0: " + std::to_string(size) +
                                    " bytes is over the 4 GiB the format can address");
    }
    std::shared_ptr<DecisionTable> table(new DecisionTable());
    // Decisions point into this copy, not into the caller's buffer, which may go away.
    table->storage_.assign(data, data + size);
    Parser p{table->storage_.data(), size};

    p.marker(MAGIC, "magic");
    size_t flags_at = p.pos;
    uint32_t flags = p.u32("flags");
    if (flags & ~FLAG_ALWAYS_SEND) {
        char buf[11];
        std::snprintf(buf, sizeof buf, "0x%08x", flags);
        p.fail(flags_at, std::string("unknown flags ") + buf +
                             " (only bit 0, always_send, is defined in format 2)");
    }
    table->always_send_ = (flags & FLAG_ALWAYS_SEND) != 0;

    // An option set (a URL's, or an extras set when `extras`), appended to options_.
    auto option_set = [&](const std::string& set, size_t limit, bool extras) {
        size_t n_at = p.pos;
        uint16_t n = p.u16(set + " option count");
        if (n > limit) {
            p.fail(n_at, set + " has " + std::to_string(n) + " options; at most " +
                             std::to_string(limit) + " fit a decision");
        }
        uint32_t first = static_cast<uint32_t>(table->options_.size());
        for (uint16_t j = 0; j < n; ++j) {
            std::string option = set + " option " + std::to_string(j);
            size_t code_at = p.pos;
            uint8_t code = p.u8(option + " code");
            if (code == 0 || code == 255) {
                p.fail(code_at, option + " has code " + std::to_string(code) +
                                    " (0 and 255 are pad and end, not options)");
            }
            size_t len_at = p.pos;
            uint16_t len = p.u16(option + " length");
            if (len > MAX_OPTION_DATA) {
                p.fail(len_at, option + " (code " + std::to_string(code) + ") data is " +
                                   std::to_string(len) + " bytes; at most 255 fit one option");
            }
            uint32_t offset = p.skip(len, option + " data");
            if (extras && code == OPTION_BOOTFILE_NAME) {
                p.fail(code_at, option + " has code 67, the boot file's");
            }
            if (j > 0) {
                const Option& prev = table->options_.back();
                if (less(code, table->at(offset), len, prev.code, table->at(prev.offset),
                         prev.size)) {
                    p.fail(code_at, option + " (code " + std::to_string(code) +
                                        ") is out of order: an option set is sorted by code, "
                                        "then data");
                }
                if (extras && code == prev.code) {
                    p.fail(code_at, option + " repeats code " + std::to_string(code) +
                                        " (an extras set has each code once)");
                }
            }
            table->options_.push_back(Option{code, offset, len});
        }
        return std::make_pair(first, static_cast<uint32_t>(n));
    };

    uint32_t n_urls = p.count("url", 2);
    table->url_sets_.reserve(n_urls);
    for (uint32_t i = 0; i < n_urls; ++i) {
        table->url_sets_.push_back(option_set("url " + std::to_string(i), kMaxUrlOptions, false));
    }

    uint32_t n_boots = p.count("boot", 2);
    table->boots_.reserve(n_boots);
    for (uint32_t i = 0; i < n_boots; ++i) {
        std::string boot = "boot " + std::to_string(i);
        size_t len_at = p.pos;
        uint16_t len = p.u16(boot + " length");
        if (len > MAX_OPTION_DATA) {
            p.fail(len_at, boot + " is " + std::to_string(len) +
                               " bytes; at most 255 fit option 67");
        }
        table->boots_.push_back(Span{p.skip(len, boot + " data"), len});
    }

    uint32_t n_extras = p.count("extras", 2);
    table->extra_sets_.reserve(n_extras);
    for (uint32_t i = 0; i < n_extras; ++i) {
        table->extra_sets_.push_back(
            option_set("extras " + std::to_string(i), kMaxExtraOptions, true));
    }

    table->default_url_ = p.index("default url", "url", n_urls, false);
    table->default_extras_ = p.index("default extras", "extras set", n_extras, true);

    uint32_t n_vendor = p.count("vendor prefix", 2);
    table->vendor_.reserve(n_vendor);
    for (uint32_t i = 0; i < n_vendor; ++i) {
        std::string prefix = "vendor prefix " + std::to_string(i);
        uint16_t len = p.u16(prefix + " length");
        table->vendor_.push_back(Span{p.skip(len, prefix), len});
    }

    uint32_t n_prefixes = p.count("MAC prefix", 2);
    for (uint32_t i = 0; i < n_prefixes; ++i) {
        std::string prefix = "MAC prefix " + std::to_string(i);
        size_t len_at = p.pos;
        uint8_t len = p.u8(prefix + " length");
        if (len < 1 || len > kMaxPrefix) {
            p.fail(len_at, prefix + " length " + std::to_string(len) + " is outside 1..16");
        }
        uint32_t offset = p.skip(len, prefix);
        auto set = std::find_if(table->prefix_sets_.begin(), table->prefix_sets_.end(),
                                [len](const PrefixSet& s) { return s.len == len; });
        if (set == table->prefix_sets_.end()) {
            table->prefix_sets_.push_back(PrefixSet{len, {}});
            set = table->prefix_sets_.end() - 1;
        }
        set->keys.insert(Key::of(table->at(offset), len));
    }
    // Longest first, like PrefixMatcher; only membership counts, so this is for tidiness.
    std::sort(table->prefix_sets_.begin(), table->prefix_sets_.end(),
              [](const PrefixSet& a, const PrefixSet& b) { return a.len > b.len; });
    for (const PrefixSet& s : table->prefix_sets_) {
        table->prefix_count_ += s.keys.size();
    }

    uint32_t n_sites = p.count("site", 16);
    table->sites_.reserve(n_sites);
    for (uint32_t i = 0; i < n_sites; ++i) {
        std::string site = "site " + std::to_string(i);
        Site s;
        s.target.url = p.index(site + " url", "url", n_urls, true);
        s.target.boot = p.index(site + " boot", "boot", n_boots, true);
        s.target.extras = p.index(site + " extras", "extras set", n_extras, true);
        s.count = p.count(site + " network", 8);
        s.first = static_cast<uint32_t>(table->networks_.size());
        for (uint32_t j = 0; j < s.count; ++j) {
            std::string network = site + " network " + std::to_string(j);
            uint32_t address = p.u32(network + " address");
            uint32_t mask = p.u32(network + " mask");
            table->networks_.emplace_back(address, mask);
        }
        table->sites_.push_back(s);
    }

    uint32_t n_devices = p.count("device", 13);
    table->devices_.reserve(n_devices);
    for (uint32_t i = 0; i < n_devices; ++i) {
        std::string device = "device " + std::to_string(i);
        uint8_t len = p.u8(device + " MAC length");
        uint32_t offset = p.skip(len, device + " MAC");
        Target t;
        t.url = p.index(device + " url", "url", n_urls, true);
        t.boot = p.index(device + " boot", "boot", n_boots, true);
        t.extras = p.index(device + " extras", "extras set", n_extras, true);
        if (len <= Key::kMaxLen) {
            // Assignment, not insert: a MAC listed twice keeps its last entry, as Engine's
            // dict comprehension over the devices does.
            table->devices_[Key::of(table->at(offset), len)] = t;
        } else {
            table->long_devices_.emplace_back(
                std::string(reinterpret_cast<const char*>(table->at(offset)), len), t);
        }
    }
    // Sorted for binary search; of equal MACs the last listed is kept (stable sort, then the
    // last of each run).
    auto& longs = table->long_devices_;
    std::stable_sort(longs.begin(), longs.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::pair<std::string, Target>> unique;
    for (size_t i = 0; i < longs.size(); ++i) {
        if (i + 1 < longs.size() && longs[i + 1].first == longs[i].first) {
            continue;
        }
        unique.push_back(std::move(longs[i]));
    }
    longs = std::move(unique);
    table->device_count_ = table->devices_.size() + longs.size();

    p.marker(END, "end marker");
    if (p.left() != 0) {
        p.fail(p.pos, std::to_string(p.left()) + " trailing bytes after \"KFTE\"");
    }
    return table;
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

bool DecisionTable::vendorMatches(const ByteSpan& vc) const {
    if (vc.size == 0) {  // absent or empty: Python's `vendor_class and ...` is false
        return false;
    }
    for (const Span& prefix : vendor_) {
        if (prefix.size > vc.size) {
            continue;
        }
        const uint8_t* p = at(prefix.offset);
        size_t i = 0;
        while (i < prefix.size && asciiLower(vc.data[i]) == p[i]) {
            ++i;
        }
        if (i == prefix.size) {
            return true;
        }
    }
    return false;
}

bool DecisionTable::prefixMatches(const ByteSpan& mac) const {
    for (const PrefixSet& set : prefix_sets_) {
        if (mac.size >= set.len && set.keys.count(Key::of(mac.data, set.len)) != 0) {
            return true;
        }
    }
    return false;
}

const DecisionTable::Target* DecisionTable::device(const ByteSpan& mac) const {
    if (mac.size <= Key::kMaxLen) {
        auto found = devices_.find(Key::of(mac.data, mac.size));
        return found == devices_.end() ? nullptr : &found->second;
    }
    if (long_devices_.empty()) {
        return nullptr;
    }
    std::string_view key(reinterpret_cast<const char*>(mac.data), mac.size);
    auto found = std::lower_bound(long_devices_.begin(), long_devices_.end(), key,
                                  [](const auto& entry, std::string_view k) {
                                      return std::string_view(entry.first) < k;
                                  });
    if (found == long_devices_.end() || std::string_view(found->first) != key) {
        return nullptr;
    }
    return &found->second;
}

const DecisionTable::Site* DecisionTable::site(uint32_t giaddr, uint32_t yiaddr,
                                               uint32_t& index) const {
    // Engine._site: per site, per network, giaddr then yiaddr; 0.0.0.0 is "no address".
    for (size_t i = 0; i < sites_.size(); ++i) {
        const Site& s = sites_[i];
        for (uint32_t j = s.first; j < s.first + s.count; ++j) {
            const auto& [network, mask] = networks_[j];
            if ((giaddr != 0 && (giaddr & mask) == network) ||
                (yiaddr != 0 && (yiaddr & mask) == network)) {
                index = static_cast<uint32_t>(i);
                return &s;
            }
        }
    }
    return nullptr;
}

bool DecisionTable::decide(const TableRequest& req, TableDecision& out) const {
    out.count = 0;
    out.has_file = false;
    out.file = ByteSpan{};
    out.matched = TableMatch::None;
    out.site = NONE;
    out.url = NONE;
    out.boot = NONE;

    // 1. Identification: device, then vendor class, then MAC prefix.
    const Target* dev = device(req.mac);
    TableMatch matched;
    if (dev != nullptr) {
        matched = TableMatch::Device;
    } else if (vendorMatches(req.vendor_class)) {
        matched = TableMatch::VendorClass;
    } else if (prefixMatches(req.mac)) {
        matched = TableMatch::Oui;
    } else {
        return false;
    }
    out.matched = matched;

    // 2. and 3. The site, then the URL and boot file: device's, site's, default.
    const Site* st = sites_.empty() ? nullptr : site(req.giaddr, req.yiaddr, out.site);
    uint32_t url = default_url_;
    uint32_t boot = NONE;
    if (dev != nullptr && dev->url != NONE) {
        url = dev->url;
    } else if (st != nullptr && st->target.url != NONE) {
        url = st->target.url;
    }
    if (dev != nullptr && dev->boot != NONE) {
        boot = dev->boot;
    } else if (st != nullptr && st->target.boot != NONE) {
        boot = st->target.boot;
    }
    out.url = url;
    out.boot = boot;

    // 4. and 5. The url's options with option 67 merged in (code, data) order, each kept when
    // always_send or when the client's option 55 asks for its code.
    auto asked = [&](uint8_t code) {
        return always_send_ ||
               (req.prl.size > 0 && std::memchr(req.prl.data, code, req.prl.size) != nullptr);
    };
    auto add = [&](uint8_t code, const uint8_t* data, size_t size) {
        if (asked(code)) {
            out.options[out.count++] = TableOption{code, data, size};
        }
    };
    const Span* file = boot != NONE ? &boots_[boot] : nullptr;
    bool file_placed = file == nullptr;
    const auto& [first, n] = url_sets_[url];
    for (uint32_t i = first; i < first + n; ++i) {
        const Option& o = options_[i];
        if (!file_placed && less(OPTION_BOOTFILE_NAME, at(file->offset), file->size, o.code,
                                 at(o.offset), o.size)) {
            add(OPTION_BOOTFILE_NAME, at(file->offset), file->size);
            file_placed = true;
        }
        add(o.code, at(o.offset), o.size);
    }
    if (!file_placed) {
        add(OPTION_BOOTFILE_NAME, at(file->offset), file->size);
    }

    // The phone options: per code, the device's, else the site's, else the default's. A code
    // counts as taken once a level has it, asked for or not (merge() decides before option 55
    // filters, in Python too).
    uint64_t taken[4] = {0, 0, 0, 0};
    size_t sorted_upto = out.count;
    for (uint32_t set : {dev != nullptr ? dev->extras : NONE,
                         st != nullptr ? st->target.extras : NONE, default_extras_}) {
        if (set == NONE) continue;
        const auto& [efirst, en] = extra_sets_[set];
        for (uint32_t i = efirst; i < efirst + en; ++i) {
            const Option& o = options_[i];
            uint64_t bit = uint64_t(1) << (o.code & 63);
            if (taken[o.code >> 6] & bit) continue;
            taken[o.code >> 6] |= bit;
            add(o.code, at(o.offset), o.size);
        }
    }
    // Insertion sort of the few extras into the sorted URL options: (code, data) order.
    for (size_t i = sorted_upto; i < out.count; ++i) {
        TableOption moving = out.options[i];
        size_t j = i;
        while (j > 0 && less(moving.code, moving.data, moving.size, out.options[j - 1].code,
                             out.options[j - 1].data, out.options[j - 1].size)) {
            out.options[j] = out.options[j - 1];
            --j;
        }
        out.options[j] = moving;
    }

    // 6. The file field is the boot data whether or not option 67 was asked for.
    if (file != nullptr) {
        out.has_file = true;
        out.file = ByteSpan{at(file->offset), file->size};
    }
    return true;
}

} // namespace fanvil
