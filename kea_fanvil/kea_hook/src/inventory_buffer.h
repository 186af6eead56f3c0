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

struct InventoryRecord {
    static constexpr size_t kMaxMac = 20;     // Kea's HWAddr::MAX_HWADDR_LEN
    static constexpr size_t kMaxOption = 255;

    double time = 0;        // seconds since the epoch, as Python's time.time()
    uint8_t mac_len = 0;
    int16_t opt60_len = -1;  // -1: the query had no option 60
    int16_t opt55_len = -1;  // -1: no option 55
    uint8_t mac[kMaxMac];
    uint8_t opt60[kMaxOption];
    uint8_t opt55[kMaxOption];
    uint8_t giaddr[4];
    uint8_t yiaddr[4];

    // Longer values are cut to what the fields hold (the inventory only describes the phone).
    void setMac(const uint8_t* data, size_t size);
    void setOpt60(const uint8_t* data, size_t size);
    void setOpt55(const uint8_t* data, size_t size);
    // From host-order integers (as TableRequest holds them) to the packet's byte order.
    void setAddresses(uint32_t relay, uint32_t offered);
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
