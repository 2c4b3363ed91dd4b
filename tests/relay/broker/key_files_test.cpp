// SPDX-License-Identifier: MIT
// The CURVE plumbing shared by zb-relay and its broker: key files and ZAP answers over real inproc sockets.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <zmq.h>

#include "broker_process.h"
#include "key_files.h"
#include "zap.h"
#include "zmq_handles.h"

namespace zerobuffer::relay {
namespace {

using test::TempDir;

struct Z85Pair {
    std::string public_key;
    std::string secret_key;
};

Z85Pair fresh_pair()
{
    std::array<char, 41> public_key{};
    std::array<char, 41> secret_key{};
    EXPECT_EQ(zmq_curve_keypair(public_key.data(), secret_key.data()), 0) << "libzmq without CURVE";
    return {public_key.data(), secret_key.data()};
}

std::string raw_key(const std::string& z85)
{
    std::string raw(32, '\0');
    EXPECT_NE(zmq_z85_decode(reinterpret_cast<std::uint8_t*>(raw.data()), z85.c_str()), nullptr);
    return raw;
}

class KeyFilesTest : public ::testing::Test {
protected:
    std::filesystem::path write(const std::string& name, const std::string& text)
    {
        const auto path = dir_.path() / name;
        std::ofstream(path) << text;
        return path;
    }
    /// A secret key file as `zb-relay keygen` writes it: mode 0600.
    std::filesystem::path write_secret(const std::string& name, const std::string& text)
    {
        const auto path = write(name, text);
        std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        return path;
    }
    TempDir dir_;
};

TEST_F(KeyFilesTest, SecretKeyFileSkipsCommentsAndDerivesThePublicKey)
{
    const Z85Pair pair = fresh_pair();
    auto keys = read_secret_key_file(write_secret("a.key", "# made by a test\n\n  " + pair.secret_key + " \r\n"));
    ASSERT_TRUE(keys) << keys.error().message;
    EXPECT_EQ(keys->secret_key, pair.secret_key);
    EXPECT_EQ(keys->public_key, pair.public_key);
    auto public_key = read_public_key_file(write("a.pub", pair.public_key + "\n"));
    ASSERT_TRUE(public_key) << public_key.error().message;
    EXPECT_EQ(*public_key, pair.public_key);
}

TEST_F(KeyFilesTest, BadKeyFilesAreNamedWithWhatToDo)
{
    const Z85Pair pair = fresh_pair();
    auto missing = read_secret_key_file(dir_.path() / "missing.key");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, BrokerErrc::KeyFile);
    EXPECT_NE(missing.error().message.find("missing.key': check the path; make it with `zb-relay keygen`"),
              std::string::npos)
        << missing.error().message;

    auto not_a_key = read_secret_key_file(write_secret("bad.key", "# comment\nnot a key\n"));
    ASSERT_FALSE(not_a_key);
    EXPECT_NE(not_a_key.error().message.find("bad.key' does not hold a 40-character Z85 key (line 2)"),
              std::string::npos)
        << not_a_key.error().message;

    auto empty = read_public_key_file(write("empty.pub", "# nothing\n"));
    ASSERT_FALSE(empty);
    EXPECT_NE(empty.error().message.find("empty.pub' does not hold a 40-character Z85 key:"), std::string::npos)
        << empty.error().message;

    auto two = read_public_key_file(write("two.pub", pair.public_key + "\n" + pair.public_key + "\n"));
    ASSERT_FALSE(two);
    EXPECT_NE(two.error().message.find("holds 2 keys; exactly one is expected"), std::string::npos)
        << two.error().message;
}

TEST_F(KeyFilesTest, SecretKeysOthersCouldReadOrSwapAreRefusedWithTheFix)
{
    const Z85Pair pair = fresh_pair();
    const auto expect_refused = [](const std::filesystem::path& path, const std::string& expected) {
        auto keys = read_secret_key_file(path);
        ASSERT_FALSE(keys) << path << " was accepted";
        EXPECT_EQ(keys.error().code, BrokerErrc::KeyFile);
        EXPECT_NE(keys.error().message.find(expected), std::string::npos) << keys.error().message;
    };
    using std::filesystem::perms;
    for (const perms extra : {perms::group_read, perms::others_read, perms::group_write, perms::others_exec}) {
        const auto path = write_secret("open.key", pair.secret_key + "\n");
        std::filesystem::permissions(path, extra, std::filesystem::perm_options::add);
        expect_refused(path, "is accessible by group or others (mode 0");
        expect_refused(path, "run `chmod 600 '" + path.string() + "'`");
    }
    const auto private_key = write_secret("private.key", pair.secret_key + "\n");
    ASSERT_TRUE(read_secret_key_file(private_key)) << "mode 0600 is what keygen writes";

    const auto link = dir_.path() / "link.key";
    std::filesystem::create_symlink(private_key, link);
    expect_refused(link, "link.key' is a symbolic link: refusing it");
    expect_refused(link, "pass the path of the key file itself");
    expect_refused(dir_.path(), "is not a regular file");
    EXPECT_TRUE(read_public_key_file(write("a.pub", pair.public_key + "\n"))) << "public keys may be shared";

    // Another user's key file: only root can make one here.
    if (geteuid() == 0) {
        const auto foreign = write_secret("foreign.key", pair.secret_key + "\n");
        ASSERT_EQ(chown(foreign.c_str(), 65534, 65534), 0);
        expect_refused(foreign, "foreign.key' belongs to uid 65534, not to this user (uid 0)");
        expect_refused(foreign, "make your own with `zb-relay keygen PREFIX`");
    } else {
        // /etc/passwd belongs to root: refused for its owner before its content is looked at.
        expect_refused("/etc/passwd", "belongs to uid 0, not to this user");
    }
}

TEST_F(KeyFilesTest, AllowedKeysDecodeToRawBytesAndBadLinesAreNumbered)
{
    const Z85Pair first = fresh_pair();
    const Z85Pair second = fresh_pair();
    auto keys = read_allowed_keys_file(write("ok.txt", "# clients\n" + first.public_key + "\n\n" + second.public_key));
    ASSERT_TRUE(keys) << keys.error().message;
    EXPECT_EQ(*keys, (std::vector<std::string>{raw_key(first.public_key), raw_key(second.public_key)}));

    auto none = read_allowed_keys_file(write("none.txt", "# nobody yet\n"));
    ASSERT_TRUE(none) << "an empty list is the caller's policy";
    EXPECT_TRUE(none->empty());

    auto bad = read_allowed_keys_file(write("bad.txt", first.public_key + "\n#\n" + first.public_key + "x\n"));
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("allowed-keys file '"), std::string::npos) << bad.error().message;
    EXPECT_NE(bad.error().message.find("bad.txt' line 3 is not a 40-character Z85 public key"), std::string::npos)
        << bad.error().message;

    auto missing = read_allowed_keys_file(dir_.path() / "missing.txt");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("one client public key (.pub) per line"), std::string::npos)
        << missing.error().message;
}

/// A ZAP handler socket and a REQ socket that sends it requests the way libzmq would, over inproc.
class ZapTest : public ::testing::Test {
protected:
    void SetUp() override
    {
        context_.reset(zmq_ctx_new());
        handler_.reset(zmq_socket(context_.get(), ZMQ_REP));
        ASSERT_EQ(zmq_bind(handler_.get(), kZapEndpoint), 0) << detail::zmq_error_text();
        asker_.reset(zmq_socket(context_.get(), ZMQ_REQ));
        ASSERT_EQ(zmq_connect(asker_.get(), kZapEndpoint), 0) << detail::zmq_error_text();
    }

    /// Sends `frames` as one request, lets the handler answer it and returns the reply frames.
    std::optional<ZapDecision> ask(const std::vector<std::string>& frames, std::vector<std::string>& reply)
    {
        for (std::size_t i = 0; i < frames.size(); ++i) {
            const int flags = i + 1 < frames.size() ? ZMQ_SNDMORE : 0;
            EXPECT_GE(zmq_send(asker_.get(), frames[i].data(), frames[i].size(), flags), 0);
        }
        zmq_pollitem_t item{handler_.get(), 0, ZMQ_POLLIN, 0};
        EXPECT_EQ(zmq_poll(&item, 1, 5000), 1) << "the request reached the handler";
        auto decision = answer_zap_request(handler_.get(), allowed_);
        reply.clear();
        for (bool more = true; more;) {
            detail::Message part;
            if (zmq_msg_recv(part.get(), asker_.get(), 0) < 0) {
                ADD_FAILURE() << "no reply: " << detail::zmq_error_text();
                break;
            }
            reply.emplace_back(part.view());
            more = part.more();
        }
        return decision;
    }

    static std::vector<std::string> curve_request(const std::string& raw_client_key)
    {
        return {"1.0", "req-7", "", "10.0.0.9", "", "CURVE", raw_client_key};
    }

    detail::ContextHandle context_;
    detail::SocketHandle handler_; // declared after the context: closed first
    detail::SocketHandle asker_;
    AllowedCurveKeys allowed_;
};

TEST_F(ZapTest, AllowedKeyPassesOthersAreRefusedWithTheirKey)
{
    const Z85Pair friend_pair = fresh_pair();
    const Z85Pair stranger = fresh_pair();
    allowed_.insert(raw_key(friend_pair.public_key));
    std::vector<std::string> reply;

    auto passed = ask(curve_request(raw_key(friend_pair.public_key)), reply);
    ASSERT_TRUE(passed);
    EXPECT_TRUE(passed->allowed);
    EXPECT_EQ(passed->client_key, friend_pair.public_key);
    ASSERT_EQ(reply.size(), 6U);
    EXPECT_EQ(reply[0], "1.0");
    EXPECT_EQ(reply[1], "req-7") << "the reply carries the request id";
    EXPECT_EQ(reply[2], "200");
    EXPECT_EQ(reply[4], friend_pair.public_key) << "the user id is the client's key (the broker's name owner)";

    auto refused = ask(curve_request(raw_key(stranger.public_key)), reply);
    ASSERT_TRUE(refused);
    EXPECT_FALSE(refused->allowed);
    EXPECT_EQ(refused->address, "10.0.0.9");
    EXPECT_EQ(refused->client_key, stranger.public_key) << "the refused key is reported for the log";
    ASSERT_EQ(reply.size(), 6U);
    EXPECT_EQ(reply[2], "400");
    EXPECT_TRUE(reply[4].empty()) << "a refused client gets no user id";
}

TEST_F(ZapTest, MalformedRequestsAreAnsweredAndRefused)
{
    const Z85Pair pair = fresh_pair();
    allowed_.insert(raw_key(pair.public_key));
    std::vector<std::string> reply;

    auto plain = ask({"1.0", "r1", "", "10.0.0.9", "", "NULL"}, reply);
    ASSERT_TRUE(plain);
    EXPECT_FALSE(plain->allowed);
    EXPECT_EQ(plain->mechanism, "NULL");
    EXPECT_TRUE(plain->client_key.empty());
    ASSERT_EQ(reply.size(), 6U);
    EXPECT_EQ(reply[1], "r1");
    EXPECT_EQ(reply[2], "400");

    auto short_key = ask(curve_request(raw_key(pair.public_key).substr(0, 31)), reply);
    ASSERT_TRUE(short_key);
    EXPECT_FALSE(short_key->allowed) << "a key of the wrong size never matches";
    EXPECT_EQ(reply[2], "400");

    std::vector<std::string> too_many = curve_request(raw_key(pair.public_key));
    too_many.resize(20, "extra");
    auto long_request = ask(too_many, reply);
    ASSERT_TRUE(long_request);
    EXPECT_TRUE(long_request->allowed) << "extra frames are read and dropped";

    auto stub = ask({"1.0"}, reply);
    ASSERT_TRUE(stub);
    EXPECT_FALSE(stub->allowed);
    ASSERT_EQ(reply.size(), 6U) << "REP must answer even a request cut short";
    EXPECT_EQ(reply[2], "400");

    EXPECT_FALSE(answer_zap_request(handler_.get(), allowed_)) << "nothing pending: no answer, no block";
}

} // namespace
} // namespace zerobuffer::relay
