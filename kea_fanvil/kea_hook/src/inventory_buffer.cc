#include "inventory_buffer.h"

#include <algorithm>
#include <cstring>

namespace fanvil {
namespace {

template <size_t N>
size_t copyCut(uint8_t (&to)[N], const uint8_t* data, size_t size) {
    size_t n = std::min(size, N);
    if (n) std::memcpy(to, data, n);
    return n;
}

} // namespace

void InventoryRecord::setMac(const uint8_t* data, size_t size) {
    mac_len = static_cast<uint8_t>(copyCut(mac, data, size));
}

void InventoryRecord::setOpt60(const uint8_t* data, size_t size) {
    opt60_len = static_cast<int16_t>(copyCut(opt60, data, size));
}

void InventoryBuffer::push(const InventoryRecord& record) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    if (records_.size() >= limit_) {
        ++dropped_;
        return;
    }
    try {
        records_.push_back(record);  // allocates only while the buffer grows to its peak
    } catch (...) {
        ++dropped_;  // out of memory: the record, not the response, is what is lost
    }
}

uint64_t InventoryBuffer::drain(std::vector<InventoryRecord>& out) {
    out.clear();
    std::lock_guard<std::mutex> lock(mutex_);
    // Swapping keeps both vectors' capacity: neither side allocates in the steady state.
    records_.swap(out);
    uint64_t dropped = dropped_;
    dropped_ = 0;
    return dropped;
}

} // namespace fanvil
