// Packets for the tests as kea-dhcp4 would hand them to pkt4_send, and their bytes on the wire
// read without Kea's parser.
#ifndef FANVIL_TEST_PACKETS_H
#define FANVIL_TEST_PACKETS_H

#include <dhcp/dhcp4.h>
#include <dhcp/option.h>
#include <dhcp/pkt4.h>

#include <string>
#include <utility>
#include <vector>

#include "python_bridge.h"

namespace fanvil::test {

inline Bytes bytes(const std::string& text) { return Bytes(text.begin(), text.end()); }

inline isc::dhcp::OptionPtr option(uint16_t code, const Bytes& data) {
    return isc::dhcp::OptionPtr(new isc::dhcp::Option(isc::dhcp::Option::V4, code, data));
}

// The packet's wire form. Read byte by byte: OutputBuffer::getData() returns const void* in
// Kea 2.2 but const uint8_t* from 2.6, while operator[] and getLength() are the same in all.
inline Bytes wire(const isc::dhcp::Pkt4Ptr& pkt) {
    pkt->pack();
    const isc::util::OutputBuffer& buffer = pkt->getBuffer();
    Bytes out;
    for (size_t i = 0; i < buffer.getLength(); ++i) out.push_back(buffer[i]);
    return out;
}

// Packed and parsed again, as a query reaches the hook: Kea's option definitions then type
// the options (55 a uint8 array, 60 a string) instead of the plain Options made here.
inline isc::dhcp::Pkt4Ptr received(const isc::dhcp::Pkt4Ptr& sent) {
    Bytes data = wire(sent);
    isc::dhcp::Pkt4Ptr pkt(new isc::dhcp::Pkt4(data.data(), data.size()));
    pkt->unpack();
    return pkt;
}

// The data of every option `code` in the packet's wire form, in order.
inline std::vector<Bytes> wireOptions(const isc::dhcp::Pkt4Ptr& pkt, uint8_t code) {
    Bytes data = wire(pkt);
    std::vector<Bytes> found;
    // Options follow the fixed header and the magic cookie.
    size_t i = isc::dhcp::Pkt4::DHCPV4_PKT_HDR_LEN + 4;
    while (i < data.size() && data[i] != isc::dhcp::DHO_END) {
        if (data[i] == isc::dhcp::DHO_PAD) {
            ++i;
            continue;
        }
        if (i + 1 >= data.size() || i + 2 + data[i + 1] > data.size()) break;
        if (data[i] == code) found.emplace_back(&data[i + 2], &data[i + 2] + data[i + 1]);
        i += 2 + data[i + 1];
    }
    return found;
}

} // namespace fanvil::test

#endif // FANVIL_TEST_PACKETS_H
