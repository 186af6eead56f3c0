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

#include <cc/data.h>

#include <dhcp/option_int_array.h>

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
    0x4b, 0x46, 0x54, 0x32, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
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
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00,
    0x00, 0x00, 0x06, 0x00, 0x66, 0x61, 0x6e, 0x76, 0x69, 0x6c, 0x02, 0x00,
    0x00, 0x00, 0x03, 0x0c, 0x38, 0x3e, 0x03, 0x00, 0xa8, 0x59, 0x01, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
    0xff, 0xff, 0x01, 0x00, 0x00, 0x00, 0x00, 0x40, 0x12, 0xc6, 0x00, 0xc0,
    0xff, 0xff, 0x01, 0x00, 0x00, 0x00, 0x06, 0x0c, 0x38, 0x3e, 0x00, 0x00,
    0x01, 0x02, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x4b, 0x46, 0x54, 0x45
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

TEST_F(TablePath, matchedRequestsWaitInTheBufferWithTheirDecision) {
    impl_->process(query({0x0c, 0x38, 0x3e, 0x00, 0x00, 0x01}, "0.0.0.0"), offer("198.18.0.50"));
    impl_->process(query({0x00, 0x15, 0x65, 0x00, 0x00, 0x01}, "0.0.0.0"), offer("198.18.0.51"));
    impl_->process(query({0x0c, 0x38, 0x3e, 0x12, 0x34, 0x56}, "198.18.64.2"),
                   offer("198.18.100.20"));
    ASSERT_NE(nullptr, impl_->inventory());
    std::vector<InventoryRecord> records;
    EXPECT_EQ(0u, impl_->inventory()->drain(records));
    ASSERT_EQ(2u, records.size());  // the phones only
    const InventoryRecord& desk = records[0];
    EXPECT_EQ((Bytes{0x0c, 0x38, 0x3e, 0x00, 0x00, 0x01}),
              Bytes(desk.mac, desk.mac + desk.mac_len));
    EXPECT_EQ(-1, desk.opt60_len);
    EXPECT_EQ(0xC6120032u, desk.yiaddr);  // 198.18.0.50
    EXPECT_EQ(0u, desk.giaddr);
    EXPECT_EQ(fake::GENERATION, desk.generation);
    EXPECT_EQ(uint8_t(TableMatch::Device), desk.matched);
    EXPECT_EQ(2u, desk.url);  // the table's URLs: default, branch, desk
    EXPECT_EQ(InventoryRecord::NONE, desk.boot);
    EXPECT_EQ(InventoryRecord::NONE, desk.site);
    EXPECT_GT(desk.time, 1.7e9);
    const InventoryRecord& relayed = records[1];
    EXPECT_EQ(uint8_t(TableMatch::Oui), relayed.matched);
    EXPECT_EQ(0xC6124002u, relayed.giaddr);  // 198.18.64.2
    EXPECT_EQ(1u, relayed.url);
    EXPECT_EQ(0u, relayed.boot);
    EXPECT_EQ(0u, relayed.site);
}

// As the query reaches a callout: parsed by Kea, so option 55 is an OptionUint8Array and 60 an
// OptionString, read in place rather than through the copies getOption() makes for callouts.
TEST_F(TablePath, typedOptionsOfAParsedQueryAreReadAsTheirBytes) {
    Pkt4Ptr sent = query({0x00, 0x15, 0x65, 0x00, 0x00, 0x02}, "0.0.0.0");
    sent->delOption(DHO_DHCP_PARAMETER_REQUEST_LIST);
    sent->addOption(option(DHO_DHCP_PARAMETER_REQUEST_LIST, {1, 3, 66}));  // not 43
    sent->addOption(option(DHO_VENDOR_CLASS_IDENTIFIER, bytes("FANVIL X4 2.10")));
    Pkt4Ptr parsed = received(sent);
    ASSERT_TRUE(dynamic_cast<OptionUint8Array*>(
        parsed->options_.find(DHO_DHCP_PARAMETER_REQUEST_LIST)->second.get()));
    Pkt4Ptr response = offer("198.18.0.52");
    impl_->process(parsed, response);
    EXPECT_EQ(bytes("http://prov.example.com/$mac.cfg"), data(response, DHO_TFTP_SERVER_NAME));
    EXPECT_EQ(nullptr, response->getOption(DHO_VENDOR_ENCAPSULATED_OPTIONS));  // not asked for
    std::vector<InventoryRecord> records;
    impl_->inventory()->drain(records);
    ASSERT_EQ(1u, records.size());
    EXPECT_EQ(uint8_t(TableMatch::VendorClass), records[0].matched);
    EXPECT_EQ(bytes("FANVIL X4 2.10"),
              Bytes(records[0].opt60, records[0].opt60 + records[0].opt60_len));
}

TEST_F(TablePath, aBootFileOptionIsBuiltOnceAndShared) {
    Pkt4Ptr first = offer("198.18.100.21");
    Pkt4Ptr second = offer("198.18.100.22");
    impl_->process(query({0x0c, 0x38, 0x3e, 0x12, 0x34, 0x57}, "198.18.64.2"), first);
    impl_->process(query({0x0c, 0x38, 0x3e, 0x12, 0x34, 0x58}, "198.18.64.2"), second);
    OptionPtr one = first->getOption(DHO_BOOT_FILE_NAME);
    ASSERT_TRUE(one);
    EXPECT_EQ(one.get(), second->getOption(DHO_BOOT_FILE_NAME).get());
    EXPECT_EQ(bytes("branch.cfg"), one->getData());
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
    EXPECT_THROW(impl_->publish(broken.data(), broken.size(), 8), std::invalid_argument);
    Pkt4Ptr response = offer("198.18.0.50");
    impl_->process(query({0x0c, 0x38, 0x3e, 0x00, 0x00, 0x01}, "0.0.0.0"), response);
    EXPECT_EQ(bytes("http://desk.example.com/x.cfg"), data(response, DHO_TFTP_SERVER_NAME));
}

TEST_F(TablePath, evaluateDecidesWithTheTableInForce) {
    TableRequest request;
    const uint8_t desk[] = {0x0c, 0x38, 0x3e, 0x00, 0x00, 0x01};
    request.mac = {desk, sizeof desk};
    int calls = 0;
    EXPECT_TRUE(impl_->evaluate(request, [&](const TableDecision& d, uint32_t generation) {
        ++calls;
        EXPECT_EQ(fake::GENERATION, generation);
        EXPECT_EQ(TableMatch::Device, d.matched);
        EXPECT_EQ(2u, d.url);
    }));
    EXPECT_EQ(1, calls);
    const uint8_t other[] = {0x00, 0x15, 0x65, 0x00, 0x00, 0x01};
    request.mac = {other, sizeof other};
    EXPECT_FALSE(impl_->evaluate(request, [&](const TableDecision&, uint32_t) { ++calls; }));
    EXPECT_EQ(1, calls);
}

TEST_F(TablePath, aCommandIsAnsweredInKeasFormat) {
    fake::answer = CommandAnswer{3, "nothing", ""};
    isc::data::ConstElementPtr answer =
        impl_->command("fanvil-devices-get", isc::data::Element::fromJSON("{\"limit\": 5}"));
    EXPECT_EQ("{ \"result\": 3, \"text\": \"nothing\" }", answer->str());
    ASSERT_EQ(1u, fake::commands.size());
    EXPECT_EQ("fanvil-devices-get", fake::commands[0].first);
    EXPECT_EQ("{ \"limit\": 5 }", fake::commands[0].second);  // the arguments as JSON

    // fanvil-status gains what only the C++ side knows: Kea's version, the packet counters.
    impl_->process(query({0x0c, 0x38, 0x3e, 0x00, 0x00, 0x01}, "0.0.0.0"), offer("198.18.0.50"));
    fake::answer = CommandAnswer{0, "status", "{\"policy\": {\"loaded\": true}}"};
    answer = impl_->command("fanvil-status", isc::data::ConstElementPtr());
    EXPECT_EQ(0, answer->get("result")->intValue());
    isc::data::ConstElementPtr body = answer->get("arguments");
    ASSERT_TRUE(body);
    EXPECT_TRUE(body->get("policy")->get("loaded")->boolValue());
    EXPECT_FALSE(body->get("kea-version")->stringValue().empty());
    EXPECT_EQ(1, body->get("packets")->get("pkt4-fanvil-matched")->intValue());
    EXPECT_EQ(0, body->get("packets")->get("pkt4-fanvil-python-decisions")->intValue());
    EXPECT_EQ("", fake::commands[1].second);  // no arguments

    fake::answer = CommandAnswer{0, "broken", "{not json"};
    EXPECT_THROW(impl_->command("fanvil-status", isc::data::ConstElementPtr()), std::exception);
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
