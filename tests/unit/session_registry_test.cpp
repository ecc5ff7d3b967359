// session_registry (local_server.hpp): a session's slot is given back, and its connection closed,
// by the slot's destructor however the session ends: a return, or an exception thrown by a
// handler while the session is suspended mid-request. A graceful stop closes idle sessions only
// and reports the drain when the last slot goes, the thrown-out one included.
//
// The sessions here are coroutines on a real io_context holding a real connected socket pair:
// the throw is a real exception unwinding a real coroutine frame, as a bug in a handler would.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>

#include "synergy_tokend/local_server.hpp"

namespace st = synergy_tokend;
namespace asio = boost::asio;
using unix_socket = asio::local::stream_protocol;
using namespace std::chrono_literals;

namespace {

struct fixture {
    asio::io_context ctx;
    st::session_registry registry;
    int drained = 0;
    std::exception_ptr ended_by;
    bool ended = false;
};

// What run_session does with its slot: take it, closing `socket` when given back; then mark the
// session busy, wait as a handler would (`wait`), and either end or throw.
asio::awaitable<void> session(st::session_registry* registry, unix_socket::socket* socket,
                              asio::steady_timer* wait, bool throws) {
    st::session_registry::slot slot(*registry, [socket] {
        boost::system::error_code ignored;
        socket->close(ignored);
    });
    slot.busy(true);
    co_await wait->async_wait(asio::use_awaitable);
    if (throws)
        throw std::runtime_error("a bug in a handler");
    slot.busy(false);
}

void spawn(fixture& f, unix_socket::socket& socket, asio::steady_timer& wait, bool throws) {
    asio::co_spawn(f.ctx, session(&f.registry, &socket, &wait, throws), [&f](std::exception_ptr e) {
        f.ended = true;
        f.ended_by = e;
    });
}

// Whether the peer of a closed socket reads the end of the stream.
bool peer_sees_eof(unix_socket::socket& peer) {
    std::array<char, 16> buf;
    boost::system::error_code ec;
    peer.read_some(asio::buffer(buf), ec);
    return ec == asio::error::eof;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(session_registry, fixture)

BOOST_AUTO_TEST_CASE(a_session_that_throws_gives_back_its_slot_and_closes_its_connection) {
    unix_socket::socket mine(ctx), peer(ctx);
    asio::local::connect_pair(mine, peer);
    asio::steady_timer wait(ctx, 20ms);
    spawn(*this, mine, wait, true);

    // Suspended mid-request: it holds its slot.
    ctx.run_one();
    BOOST_TEST(registry.size() == 1u);
    BOOST_TEST(mine.is_open());
    // A stop begun now leaves the busy session be and waits for it.
    registry.drain([this] { ++drained; });
    BOOST_TEST(mine.is_open());
    BOOST_TEST(drained == 0);

    ctx.run_for(5s);
    BOOST_TEST(ctx.stopped()); // nothing left behind
    BOOST_TEST_REQUIRE(ended);
    BOOST_TEST_REQUIRE(static_cast<bool>(ended_by));
    BOOST_CHECK_THROW(std::rethrow_exception(ended_by), std::runtime_error);
    BOOST_TEST(registry.size() == 0u);
    BOOST_TEST(!mine.is_open());
    BOOST_TEST(peer_sees_eof(peer));
    BOOST_TEST(drained == 1);
}

BOOST_AUTO_TEST_CASE(a_session_that_returns_gives_back_its_slot) {
    unix_socket::socket mine(ctx), peer(ctx);
    asio::local::connect_pair(mine, peer);
    asio::steady_timer wait(ctx, 1ms);
    spawn(*this, mine, wait, false);
    ctx.run_for(5s);
    BOOST_TEST(ctx.stopped());
    BOOST_TEST_REQUIRE(ended);
    BOOST_TEST(!ended_by);
    BOOST_TEST(registry.size() == 0u);
    BOOST_TEST(!mine.is_open());
    BOOST_TEST(peer_sees_eof(peer));
}

BOOST_AUTO_TEST_CASE(drain_closes_idle_sessions_and_reports_when_the_last_slot_goes) {
    std::string closed;
    {
        st::session_registry::slot idle(registry, [&closed] { closed += "idle "; });
        st::session_registry::slot busy(registry, [&closed] { closed += "busy "; });
        busy.busy(true);
        BOOST_TEST(registry.size() == 2u);
        BOOST_TEST(!registry.draining());

        registry.drain([this] { ++drained; });
        BOOST_TEST(registry.draining());
        BOOST_TEST(closed == "idle ");
        BOOST_TEST(drained == 0);
    } // `busy` goes first, then `idle`: the drain is reported once, after the last
    BOOST_TEST(registry.size() == 0u);
    BOOST_TEST(drained == 1);
    BOOST_TEST(closed == "idle busy idle ");
}

BOOST_AUTO_TEST_CASE(drain_with_no_session_reports_at_once) {
    registry.drain([this] { ++drained; });
    BOOST_TEST(drained == 1);
}

BOOST_AUTO_TEST_CASE(a_slot_that_outlives_its_registry_gives_back_nothing) {
    // As at exit after the grace period: the server (and its registry) goes before the frames of
    // the sessions still suspended, which the io_context destroys later.
    int closed = 0;
    auto gone = std::make_unique<st::session_registry>();
    auto slot = std::make_unique<st::session_registry::slot>(*gone, [&closed] { ++closed; });
    slot->busy(true);
    gone.reset();
    slot->busy(false);
    slot.reset();
    BOOST_TEST(closed == 0);
}

BOOST_AUTO_TEST_SUITE_END()
