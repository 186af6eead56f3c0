// DecisionTable: the policy compiled by Python (kea_fanvil.engine.Engine.table()) into a flat
// binary table, read and evaluated here so that the hook decides per packet without Python
// (issue 16). Pure C++17 and the standard library: no Kea, no Python headers, so the unit tests
// and tests/cpp/table_eval (the oracle test against Engine.decide_raw) build without either.
//
// This comment is the definition of the format and of its evaluation: the issue 16 spec
// ("Decision table, format 1", /tmp/table_spec.md while the issue was worked on), copied and
// adapted, then format 2 (issue 18: the phone options of policy.dhcp_options, "extras");
// Engine.table()'s docstring points here. Python and C++ ship together, so the hook reads
// format 2 only. The evaluation is Engine.decide_raw's: where
// this file and decide_raw differ, decide_raw is right (tests/test_decision_table.py compares
// them on generated policies).
//
// Format 2. All integers little-endian, unsigned. NONE = 0xFFFFFFFF (u32). In this order:
//
//     magic      4 bytes  "KFT2"
//     flags      u32      bit 0: always_send (1 = send every option; 0 = only the codes the
//                         client's option 55 lists). Other bits must be 0 (see below).
//     urls       u32 count, then per URL an option set:
//                  u16 n_options, then n x (u8 code, u16 len, len bytes of data)
//                  -- the options carrying that URL, already encoded, sorted by code
//     boots      u32 count, then per boot file: u16 len, len bytes (the encoded option 67
//                  data, which is also the BOOTP file field value)
//     extras     u32 count, then per set an option set as for urls (at most kMaxExtraOptions
//                  options, codes distinct and never 67) -- the phone options (VLAN, SIP,
//                  NTP, time) one level of the policy sets: a device (merged over its
//                  model's), a site, or the default
//     default    u32      index into urls (the policy's provisioning.url), then
//                u32      index into extras (the default phone options) or NONE
//     vendor     u32 count, then per prefix: u16 len, len bytes (the option 60 prefix as
//                  Engine compares it: str.lower(), then UTF-8; for ASCII that is ASCII
//                  lowercasing, but U+212A (Kelvin sign) becomes "k" and "Ä" becomes "ä",
//                  which a request's bytes, lowercased A-Z only, match only when they hold
//                  those very bytes)
//     prefixes   u32 count, then per MAC prefix: u8 len (1..16), len bytes
//     sites      u32 count, then per site (in policy order): u32 url (index or NONE), u32 boot
//                  (index or NONE), u32 extras (index or NONE), u32 n_networks, then
//                  n x (u32 network, u32 mask) as host-order integers of the IPv4 network
//                  address and netmask
//     devices    u32 count, then per device: u8 mac_len, mac bytes, u32 url (index or NONE),
//                  u32 boot (index or NONE), u32 extras (index or NONE)
//     end        4 bytes  "KFTE"
//
// parse() rejects, with std::invalid_argument "decision table: offset N: <what>", everything
// the spec lists: a bad magic (format 1's "KFT1" included), counts or lengths that run past the end, an index out of range,
// a default that is NONE, option codes 0 or 255, option (and boot) data longer than 255, a bad
// end marker, trailing bytes after "KFTE". It also rejects, beyond the spec's list:
//   - flag bits other than bit 0: a later writer's flag may change the evaluation, and
//     misreading it silently would send phones the wrong options;
//   - a MAC prefix length outside 1..16 (the spec's stated range);
//   - an option set that is not in (code, data) order (the spec says "sorted by code"), or
//     that holds more than kMaxUrlOptions options (kMaxExtraOptions for extras), so that a
//     decision fits TableDecision's fixed array: no allocation per packet;
//   - an extras set with a code twice or with code 67 (the merge in step 4 is per code, and
//     option 67 is the boot file's).
// A MAC listed twice as a device keeps the last entry, as Engine's dict of devices does.
//
// Evaluation (decide), exactly as Engine.decide_raw:
//  1. the device whose mac equals the request's mac exactly -> matched Device;
//     else, when vendor_class is non-empty and ascii_lower(vendor_class) starts with a vendor
//     prefix -> VendorClass (bytes >= 0x80 are left as they are, like Python's bytes.lower();
//     an empty prefix matches any non-empty vendor class);
//     else, when the mac starts with a MAC prefix (mac at least as long as the prefix) -> Oui;
//     else no decision: not a phone of ours (decide returns false).
//  2. site: the first site, in table order, with a network such that (address & mask) ==
//     network for giaddr or yiaddr; an address of 0.0.0.0 is never considered; giaddr is tried
//     before yiaddr for each network; the first site matching either wins. No sites -> none.
//  3. url = device.url if set, else site.url if set, else default;
//     boot = device.boot if set, else site.boot if set, else none.
//  4. options = the url's option set, plus (67, boot data) when boot is set, plus, for every
//     code of the extras sets of the device, the site and the default (those that are set),
//     the option of the first of the three sets that has the code; all in (code, data) order
//     (Python's sorted() over (code, bytes) tuples).
//  5. unless always_send: keep only the options whose code is a byte of prl (no prl: none).
//  6. result: the options and the file field (= boot data, or none).
//
// Absent vendor_class or prl: {nullptr, 0}. The rules treat absent and empty alike (step 1:
// "non-empty"; step 5: "a missing prl keeps none"), so TableRequest has no separate flag.
#ifndef FANVIL_DECISION_TABLE_H
#define FANVIL_DECISION_TABLE_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace fanvil {

// A run of bytes not owned by the holder. (Not "Bytes": python_bridge.h has fanvil::Bytes, a
// std::vector, and fanvil_impl.h includes both headers.)
struct ByteSpan {
    const uint8_t* data = nullptr;
    size_t size = 0;
};

// What decide() needs of one exchange. The byte runs are only read during the call.
struct TableRequest {
    ByteSpan mac;           // the client's hardware address (chaddr/hlen), any length
    ByteSpan vendor_class;  // option 60 data; {nullptr, 0} when absent
    ByteSpan prl;           // option 55 data (codes asked for); {nullptr, 0} when absent
    uint32_t giaddr = 0;    // relay address from the query, host order (10.0.0.1 = 0x0a000001)
    uint32_t yiaddr = 0;    // address offered in the response, host order
};

// One option of a decision; data points into the DecisionTable's own storage.
struct TableOption {
    uint8_t code = 0;
    const uint8_t* data = nullptr;
    size_t size = 0;
};

// The numbers are part of the inventory's records (kea_fanvil.kea_hook.inventory.MATCHED_BY).
enum class TableMatch : uint8_t { None = 0, Device = 1, VendorClass = 2, Oui = 3 };

// The result of decide(). Fixed capacity, so a decision allocates nothing; every pointer stays
// valid while the DecisionTable that filled it lives (keep its shared_ptr while using `out`).
struct TableDecision {
    // A URL's set holds at most 7 options (the writer's hold at most 3: 43, 66, the custom
    // option), plus option 67, plus the extras of three levels of at most 8 options each (the
    // writer's hold at most 6: options 2, 42, 100, 101, 120 and the VLAN's).
    static constexpr size_t kMaxUrlOptions = 7;
    static constexpr size_t kMaxExtraOptions = 8;
    static constexpr size_t kMaxOptions = kMaxUrlOptions + 1 + 3 * kMaxExtraOptions;

    std::array<TableOption, kMaxOptions> options{};
    size_t count = 0;             // options[0..count) are the options, in wire order
    bool has_file = false;        // the BOOTP file field (= option 67 data) is set
    ByteSpan file;                // its value, when has_file
    TableMatch matched = TableMatch::None;
    uint32_t site = 0xFFFFFFFFu;  // index of the site that matched, NONE when none
    // Which of the table's URLs and boot files the decision is made of (before option 55 is
    // applied; boot NONE when none): what the inventory records without deciding again.
    uint32_t url = 0xFFFFFFFFu;
    uint32_t boot = 0xFFFFFFFFu;

    const TableOption* begin() const { return options.data(); }
    const TableOption* end() const { return options.data() + count; }
};

class DecisionTable {
public:
    static constexpr uint32_t NONE = 0xFFFFFFFFu;
    static constexpr size_t kMaxUrlOptions = TableDecision::kMaxUrlOptions;
    static constexpr size_t kMaxExtraOptions = TableDecision::kMaxExtraOptions;
    static constexpr size_t kMaxPrefix = 16;  // the spec's MAC prefix lengths: 1..16

    // Copies `data` (the table's storage, which decisions point into) and indexes it. Throws
    // std::invalid_argument("decision table: offset N: ...") on any malformed input.
    static std::shared_ptr<const DecisionTable> parse(const uint8_t* data, size_t size);

    // False: not a phone of ours (`out` then says matched None and holds no options).
    // Otherwise fills `out`. Const and touches nothing shared: safe from any number of threads
    // at once; allocates nothing.
    bool decide(const TableRequest& req, TableDecision& out) const;

    bool alwaysSend() const { return always_send_; }
    size_t urls() const { return url_sets_.size(); }
    size_t boots() const { return boots_.size(); }
    size_t extras() const { return extra_sets_.size(); }
    size_t vendorPrefixes() const { return vendor_.size(); }
    size_t prefixes() const { return prefix_count_; }
    size_t sites() const { return sites_.size(); }
    size_t devices() const { return device_count_; }
    size_t size() const { return storage_.size(); }  // bytes of the table

    // Calls `fn(code, data, size)` once for every option of every URL's and extras set, with
    // the very pointers decide() puts in TableDecision: the hook builds its Kea option objects
    // for them once per table. (Boot files, one per device at worst, are built when first
    // sent.)
    template <typename Fn>
    void forEachOption(Fn&& fn) const {
        for (const Option& o : options_) fn(o.code, at(o.offset), size_t(o.size));
    }

    DecisionTable(const DecisionTable&) = delete;
    DecisionTable& operator=(const DecisionTable&) = delete;

private:
    DecisionTable() = default;
    struct Parser;

    // A MAC or MAC prefix of at most 16 bytes, packed so that hashing and comparing it
    // allocate nothing (C++17's unordered_map has no lookup by string_view).
    struct Key {
        static constexpr size_t kMaxLen = 16;
        uint64_t lo = 0;
        uint64_t hi = 0;
        uint8_t len = 0;
        static Key of(const uint8_t* data, size_t len);  // len <= 16
        bool operator==(const Key& o) const { return lo == o.lo && hi == o.hi && len == o.len; }
    };
    struct KeyHash {
        size_t operator()(const Key& k) const;
    };
    struct Option {
        uint8_t code;
        uint32_t offset;  // of the data in storage_
        uint16_t size;
    };
    struct Span {  // a boot file or a vendor prefix in storage_
        uint32_t offset;
        uint16_t size;
    };
    struct Target {  // what a device or site points at
        uint32_t url = NONE;
        uint32_t boot = NONE;
        uint32_t extras = NONE;
    };
    struct Site {
        Target target;
        uint32_t first;  // networks_[first .. first + count)
        uint32_t count;
    };
    struct PrefixSet {
        uint8_t len;
        std::unordered_set<Key, KeyHash> keys;
    };

    const uint8_t* at(uint32_t offset) const { return storage_.data() + offset; }
    bool vendorMatches(const ByteSpan& vendor_class) const;
    bool prefixMatches(const ByteSpan& mac) const;
    const Target* device(const ByteSpan& mac) const;
    const Site* site(uint32_t giaddr, uint32_t yiaddr, uint32_t& index) const;

    std::vector<uint8_t> storage_;
    bool always_send_ = false;
    std::vector<std::pair<uint32_t, uint32_t>> url_sets_;  // (first, count) into options_
    std::vector<std::pair<uint32_t, uint32_t>> extra_sets_;  // the same, for extras
    std::vector<Option> options_;
    std::vector<Span> boots_;
    uint32_t default_url_ = 0;
    uint32_t default_extras_ = NONE;
    std::vector<Span> vendor_;
    std::vector<PrefixSet> prefix_sets_;  // one per length present, longest first
    size_t prefix_count_ = 0;
    std::vector<Site> sites_;
    std::vector<std::pair<uint32_t, uint32_t>> networks_;  // (network, mask), host order
    // Devices whose MAC fits a Key (all of them in practice: 6 bytes); longer ones, which the
    // format allows (u8 mac_len), sorted for a binary search that allocates nothing.
    std::unordered_map<Key, Target, KeyHash> devices_;
    std::vector<std::pair<std::string, Target>> long_devices_;
    size_t device_count_ = 0;
};

} // namespace fanvil

#endif // FANVIL_DECISION_TABLE_H
