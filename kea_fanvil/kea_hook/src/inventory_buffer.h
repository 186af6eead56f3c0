// InventoryBuffer: the facts of each matched request, kept for the Python inventory writer.
//
// Kea's threads push one fixed-size record per matched response (no GIL, no allocation once the
// buffer has grown to its working size); the writer (kea_fanvil.kea_hook.inventory) drains them
// all in one call per batch, holding the GIL once. A full buffer drops the record and counts
// it: a response never waits for the inventory (issue 16, "the inventory off the packet path").
#ifndef FANVIL_INVENTORY_BUFFER_H
#define FANVIL_INVENTORY_BUFFER_H

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace fanvil {

// What the writer needs of one matched response: the client's facts and the decision the table
// made (indices into the table published as `generation`), so that Python never decides again.
struct InventoryRecord {
    static constexpr size_t kMaxMac = 20;     // Kea's HWAddr::MAX_HWADDR_LEN
    static constexpr size_t kMaxOption = 255;
    static constexpr uint32_t NONE = 0xFFFFFFFFu;  // as DecisionTable::NONE

    double time = 0;          // seconds since the epoch, as Python's time.time()
    uint32_t generation = 0;  // the table the decision came from (Python numbers them)
    uint32_t giaddr = 0;      // host order, as TableRequest
    uint32_t yiaddr = 0;
    uint32_t url = NONE;      // TableDecision's indices
    uint32_t boot = NONE;
    uint32_t site = NONE;
    uint8_t matched = 0;      // TableMatch as an integer: 1 device, 2 vendor class, 3 OUI
    uint8_t mac_len = 0;
    int16_t opt60_len = -1;   // -1: the query had no option 60
    uint8_t mac[kMaxMac];
    uint8_t opt60[kMaxOption];

    // Longer values are cut to what the fields hold (the inventory only describes the phone).
    void setMac(const uint8_t* data, size_t size);
    void setOpt60(const uint8_t* data, size_t size);
};

class InventoryBuffer {
public:
    explicit InventoryBuffer(size_t limit) : limit_(limit) {}

    // Never blocks for longer than a copy of one record; never throws.
    void push(const InventoryRecord& record) noexcept;

    // Moves every record into `out` (cleared first; its capacity is reused) and returns how
    // many were dropped since the last drain.
    uint64_t drain(std::vector<InventoryRecord>& out);

    size_t limit() const { return limit_; }

private:
    std::mutex mutex_;
    std::vector<InventoryRecord> records_;
    const size_t limit_;
    uint64_t dropped_ = 0;
};

} // namespace fanvil

#endif // FANVIL_INVENTORY_BUFFER_H
