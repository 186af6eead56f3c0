// FanvilImpl's table path ("decisions": "table"): the decision made in C++ from the table the
// Python side publishes, applied to the response, and the matched request buffered for the
// inventory, without calling Python.
#include <stats/stats_mgr.h>

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <vector>

#include "fake_policy.h"
#include "fanvil_impl.h"
#include "packets.h"

using namespace fanvil;
using namespace fanvil::test;
using namespace isc::dhcp;
using isc::asiolink::IOAddress;
using isc::stats::StatsMgr;

namespace {

// Engine(policy).table() for this policy (always_send off; option 43 string and option 66):
//   provisioning.url http://prov.example.com/$mac.cfg
//   sites: branch 198.18.64.0/18, url http://branch.example.com/, boot_file branch.cfg
//   devices: 0c:38:3e:00:00:01 with url http://desk.example.com/x.cfg
// (tests/test_decision_table.py proves Engine.table() and this evaluator agree in general.)
const std::vector<uint8_t> TABLE = {
    0x4b, 0x46, 0x54, 0x31, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x2b, 0x20, 0x00, 0x68, 0x74, 0x74, 0x70, 0x3a, 0x2f, 0x2f,
    0x70, 0x72, 0x6f, 0x76, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
    0x2e, 0x63, 0x6f, 0x6d, 0x2f, 0x24, 0x6d, 0x61, 0x63, 0x2e, 0x63, 0x66,
    0x67, 0x42, 0x20, 0x00, 0x68, 0x74, 0x74, 0x70, 0x3a, 0x2f, 0x2f, 0x70,
    0x72, 0x6f, 0x76, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e,
    0x63, 0x6f, 0x6d, 0x2f, 0x24, 0x6d, 0x61, 0x63, 0x2e, 0x63, 0x66, 0x67,
    0x02, 0x00, 0x2b, 0x1a, 0x00, 0x68, 0x74, 0x74, 0x70, 0x3a, 0x2f, 0x2f,
    0x62, 0x72, 0x61, 0x6e, 0x63, 0x68, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70,
    0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x2f, 0x42, 0x1a, 0x00, 0x68, 0x74,
    0x74, 0x70, 0x3a, 0x2f, 0x2f, 0x62, 0x72, 0x61, 0x6e, 0x63, 0x68, 0x2e,
    0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x2f,
    0x02, 0x00, 0x2b, 0x1d, 0x00, 0x68, 0x74, 0x74, 0x70, 0x3a, 0x2f, 0x2f,
    0x64, 0x65, 0x73, 0x6b, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
    0x2e, 0x63, 0x6f, 0x6d, 0x2f, 0x78, 0x2e, 0x63, 0x66, 0x67, 0x42, 0x1d,
    0x00, 0x68, 0x74, 0x74, 0x70, 0x3a, 0x2f, 0x2f, 0x64, 0x65, 0x73, 0x6b,
    0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d,
    0x2f, 0x78, 0x2e, 0x63, 0x66, 0x67, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x00,
    0x62, 0x72, 0x61, 0x6e, 0x63, 0x68, 0x2e, 0x63, 0x66, 0x67, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x66, 0x61, 0x6e, 0x76,
    0x69, 0x6c, 0x02, 0x00, 0x00, 0x00, 0x03, 0x0c, 0x38, 0x3e, 0x03, 0x00,
    0xa8, 0x59, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x40, 0x12, 0xc6, 0x00, 0xc0,
    0xff, 0xff, 0x01, 0x00, 0x00, 0x00, 0x06, 0x0c, 0x38, 0x3e, 0x00, 0x00,
    0x01, 0x02, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x4b, 0x46, 0x54,
    0x45
};

int64_t stat(const std::string& name) {
    isc::stats::ObservationPtr observation = StatsMgr::instance().getObservation(name);
    return observation ? observation->getInteger().first : -1;
}

class TablePath : public ::testing::Test {
protected:
    void SetUp() override {
        fake::reset();
        StatsMgr::instance().removeAll();
        fake::table = TABLE;
        Config config;
        config.policy = "/etc/kea/fanvil.yaml";
        impl_ = std::make_unique<FanvilImpl>(config);
    }

    static Pkt4Ptr query(const std::vector<uint8_t>& mac, const std::string& giaddr) {
        Pkt4Ptr query(new Pkt4(DHCPDISCOVER, 0x1234));
        query->setHWAddr(HTYPE_ETHER, mac.size(), mac);
        query->setGiaddr(IOAddress(giaddr));
        query->addOption(option(DHO_DHCP_PARAMETER_REQUEST_LIST, {1, 3, 43, 66, 67}));
        return query;
    }

    static Pkt4Ptr offer(const std::string& yiaddr) {
        Pkt4Ptr response(new Pkt4(DHCPOFFER, 0x1234));
        response->setYiaddr(IOAddress(yiaddr));
        response->addOption(option(DHO_TFTP_SERVER_NAME, bytes("kea-tftp")));
        return response;
    }

    static Bytes data(const Pkt4Ptr& pkt, uint16_t code) {
        OptionPtr found = pkt->getOption(code);
        return found ? found->getData() : Bytes();
    }

    std::unique_ptr<FanvilImpl> impl_;
};

TEST_F(TablePath, theLoadPublishedTheTableAndNoPythonDecides) {
    ASSERT_TRUE(fake::loaded);
    EXPECT_EQ(impl_.get(), fake::loaded->path);
    Pkt4Ptr response = offer("198.18.0.50");
    impl_->process(query({0x0c, 0x38, 0x3e, 0x00, 0x00, 0x01}, "0.0.0.0"), response);
    EXPECT_TRUE(fake::requests.empty());  // decide() in Python was never called
    EXPECT_EQ(0, stat("pkt4-fanvil-python-decisions"));
    EXPECT_EQ(bytes("http://desk.example.com/x.cfg"), data(response, DHO_TFTP_SERVER_NAME));
    EXPECT_EQ(bytes("http://desk.example.com/x.cfg"),
              data(response, DHO_VENDOR_ENCAPSULATED_OPTIONS));
    EXPECT_EQ(1, stat("pkt4-fanvil-matched"));
    EXPECT_EQ(1, stat("pkt4-fanvil-changed"));
}

TEST_F(TablePath, aRelayedPhoneGetsItsSiteAndBootFile) {
    Pkt4Ptr response = offer("198.18.100.20");
    impl_->process(query({0x0c, 0x38, 0x3e, 0x12, 0x34, 0x56}, "198.18.64.2"), response);
    EXPECT_EQ(bytes("http://branch.example.com/"), data(response, DHO_TFTP_SERVER_NAME));
    EXPECT_EQ(bytes("branch.cfg"), data(response, DHO_BOOT_FILE_NAME));
    std::vector<uint8_t> file = response->getFile();
    EXPECT_EQ("branch.cfg", std::string(reinterpret_cast<const char*>(file.data())));
}

TEST_F(TablePath, anotherClientIsLeftAsKeaBuiltIt) {
    Pkt4Ptr response = offer("198.18.0.51");
    Bytes before = wire(response);
    impl_->process(query({0x00, 0x15, 0x65, 0x00, 0x00, 0x01}, "0.0.0.0"), response);
    EXPECT_EQ(before, wire(response));
    EXPECT_EQ(0, stat("pkt4-fanvil-matched"));
}

TEST_F(TablePath, matchedRequestsWaitInTheBufferForTheWriter) {
    impl_->process(query({0x0c, 0x38, 0x3e, 0x00, 0x00, 0x01}, "0.0.0.0"), offer("198.18.0.50"));
    impl_->process(query({0x00, 0x15, 0x65, 0x00, 0x00, 0x01}, "0.0.0.0"), offer("198.18.0.51"));
    ASSERT_NE(nullptr, impl_->inventory());
    std::vector<InventoryRecord> records;
    EXPECT_EQ(0u, impl_->inventory()->drain(records));
    ASSERT_EQ(1u, records.size());  // the phone only
    const InventoryRecord& r = records[0];
    EXPECT_EQ((Bytes{0x0c, 0x38, 0x3e, 0x00, 0x00, 0x01}), Bytes(r.mac, r.mac + r.mac_len));
    EXPECT_EQ(-1, r.opt60_len);
    EXPECT_EQ((Bytes{1, 3, 43, 66, 67}), Bytes(r.opt55, r.opt55 + r.opt55_len));
    EXPECT_EQ((Bytes{198, 18, 0, 50}), Bytes(r.yiaddr, r.yiaddr + 4));
    EXPECT_EQ((Bytes{0, 0, 0, 0}), Bytes(r.giaddr, r.giaddr + 4));
    EXPECT_GT(r.time, 1.7e9);
}

TEST_F(TablePath, aFullBufferDropsAndCountsRecords) {
    InventoryBuffer buffer(2);
    InventoryRecord record;
    record.setMac(TABLE.data(), 6);
    for (int i = 0; i < 5; ++i) buffer.push(record);
    std::vector<InventoryRecord> records;
    EXPECT_EQ(3u, buffer.drain(records));
    EXPECT_EQ(2u, records.size());
    EXPECT_EQ(0u, buffer.drain(records));  // counted once
    EXPECT_TRUE(records.empty());
}

TEST_F(TablePath, aRefusedTableKeepsTheOneInForce) {
    std::vector<uint8_t> broken(TABLE.begin(), TABLE.end() - 1);
    EXPECT_THROW(impl_->publish(broken.data(), broken.size()), std::invalid_argument);
    Pkt4Ptr response = offer("198.18.0.50");
    impl_->process(query({0x0c, 0x38, 0x3e, 0x00, 0x00, 0x01}, "0.0.0.0"), response);
    EXPECT_EQ(bytes("http://desk.example.com/x.cfg"), data(response, DHO_TFTP_SERVER_NAME));
}

TEST_F(TablePath, noTablePublishedIsALoadError) {
    fake::reset();  // the fake load publishes nothing now
    Config config;
    config.policy = "/etc/kea/fanvil.yaml";
    try {
        FanvilImpl impl(config);
        FAIL() << "constructed without a table";
    } catch (const std::runtime_error& ex) {
        EXPECT_EQ(std::string("kea_fanvil.kea_hook.entry.load() published no decision table"),
                  ex.what());
    }
}

} // namespace
